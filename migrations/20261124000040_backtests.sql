-- Backtest jobs started through the engine's API (engine/src/backtests).
--
-- A job is claimed by one engine at a time (FOR UPDATE SKIP LOCKED) and kept alive by a
-- heartbeat; a job whose worker stopped beating is claimed again, up to a few attempts. The
-- summary and every round trip are kept here; the full output files (summary.json,
-- trades.csv, equity.csv, report.html) are under `result_prefix` in the object store.

create table backtest_job (
    job_id          uuid primary key,
    -- The client's Idempotency-Key: a retried POST returns the job it created.
    idempotency_key text unique,
    created_by      text not null,
    request         jsonb not null,
    status          text not null default 'queued'
                    check (status in ('queued', 'running', 'succeeded', 'failed')),
    -- Fraction of bars processed, 0 to 1 (a display value, never summed).
    progress        double precision not null default 0 check (progress between 0 and 1),
    attempts        integer not null default 0,
    worker          text,
    heartbeat_at    timestamptz,
    summary         jsonb,
    error           text,
    result_prefix   text not null,
    created_at      timestamptz not null default now(),
    started_at      timestamptz,
    finished_at     timestamptz
);

create index backtest_job_newest on backtest_job (created_at desc, job_id desc);
create index backtest_job_pending on backtest_job (created_at) where status in ('queued', 'running');

create table backtest_trade (
    job_id   uuid not null references backtest_job (job_id) on delete cascade,
    seq      integer not null,
    entry_ts timestamptz not null,
    entry_px numeric(28, 10) not null,
    exit_ts  timestamptz not null,
    exit_px  numeric(28, 10) not null,
    qty      numeric(28, 10) not null,
    pnl      numeric(28, 10) not null,
    primary key (job_id, seq)
);
