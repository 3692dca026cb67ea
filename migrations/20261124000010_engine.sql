-- Trading engine: API tokens, strategies and their leases, signals, orders and their events,
-- fills, positions, risk limits, the kill switch, the audit log and equity history.
--
-- Every trading row carries its account and its strategy (`manual` for orders placed through
-- the API, `flatten` for orders a halt places to close positions). Amounts are numeric with 8
-- decimals, the precision of the domain's fixed-point types.

create table api_token (
    token_id   bigserial primary key,
    name       text not null unique,
    token_hash bytea not null unique,        -- sha256 of the token; the token itself is never stored
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);

create table strategy (
    strategy_id     bigserial primary key,
    name            text not null unique check (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    kind            text not null,           -- domain registry name: sma_cross, signal_follower, ...
    params          jsonb not null default '{}',
    account         text not null,
    symbols         text[] not null,
    bar_seconds     integer not null default 60 check (bar_seconds between 1 and 86400),
    enabled         boolean not null default false,
    passphrase_hash bytea,                   -- sha256 of the webhook passphrase, null = no webhook
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

-- One row per strategy. The owner runs it until expires_at; every acquisition increments the
-- fencing token, and every order a runner writes must present the current token.
create table strategy_lease (
    strategy_id   bigint primary key references strategy (strategy_id) on delete cascade,
    owner         text,
    expires_at    timestamptz not null default '-infinity',
    fencing_token bigint not null default 0
);

-- Engine processes, for adopting the open orders of one that died.
create table engine_instance (
    instance_id  text primary key,
    started_at   timestamptz not null default now(),
    heartbeat_at timestamptz not null default now(),
    stopped_at   timestamptz
);

create table signal (
    signal_id    bigserial primary key,
    strategy_id  bigint not null references strategy (strategy_id),
    account      text not null,
    strategy     text not null,
    dedupe_key   text not null,              -- the alert_id, or a hash of the body without one
    ticker       text not null,
    action       text not null check (action in ('buy', 'sell', 'exit')),
    quantity     numeric(28, 8),
    price        numeric(28, 8),
    payload      jsonb not null,
    received_at  timestamptz not null default now(),
    status       text not null default 'pending' check (status in ('pending', 'processed', 'ignored', 'failed')),
    processed_at timestamptz,
    note         text,
    unique (strategy_id, dedupe_key)
);
create index signal_pending on signal (signal_id) where status = 'pending';

create table "order" (
    order_id        bigserial primary key,
    account         text not null,
    strategy        text not null,
    client_order_id text not null,
    symbol          text not null,
    side            text not null check (side in ('buy', 'sell')),
    order_type      text not null check (order_type in ('market', 'limit')),
    limit_price     numeric(28, 8),
    time_in_force   text not null check (time_in_force in ('gtc', 'ioc', 'day')),
    qty             numeric(28, 8) not null,
    filled_qty      numeric(28, 8) not null default 0,
    avg_fill_price  numeric(28, 8),
    status          text not null,
    reject_reason   text,
    venue           text not null,
    venue_order_id  text,
    instance_id     text,                    -- the engine process the order is working in
    fencing_token   bigint,
    signal_id       bigint references signal (signal_id),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (account, client_order_id)
);
create index order_open on "order" (status) where status in ('pending_new', 'new', 'partially_filled', 'pending_cancel');
create index order_account_created on "order" (account, created_at);

create table order_event (
    event_id    bigserial primary key,
    order_id    bigint not null references "order" (order_id),
    account     text not null,
    strategy    text not null,
    event       text not null,
    from_status text,
    to_status   text not null,
    detail      jsonb,
    ts          timestamptz not null default now()
);
create index order_event_order on order_event (order_id, event_id);

create table fill (
    fill_id      bigserial primary key,
    order_id     bigint not null references "order" (order_id),
    account      text not null,
    strategy     text not null,
    symbol       text not null,
    side         text not null,
    qty          numeric(28, 8) not null,
    price        numeric(28, 8) not null,
    fee          numeric(28, 8) not null,
    realized_pnl numeric(28, 8) not null,    -- P&L this fill realized, net of its fee
    venue        text not null,
    exec_id      text not null,
    ts           timestamptz not null,
    unique (venue, exec_id)
);
create index fill_account_ts on fill (account, ts);

create table position (
    account      text not null,
    strategy     text not null,
    symbol       text not null,
    qty          numeric(28, 8) not null default 0,
    cost_basis   numeric(28, 8) not null default 0,
    realized_pnl numeric(28, 8) not null default 0,
    fees         numeric(28, 8) not null default 0,
    updated_at   timestamptz not null default now(),
    primary key (account, strategy, symbol)
);

create table risk_limit (
    account               text primary key,
    max_order_qty         numeric(28, 8),
    max_order_notional    numeric(28, 8),
    max_position          numeric(28, 8),
    max_gross_exposure    numeric(28, 8),
    price_collar_bps      numeric(12, 2),
    max_daily_loss        numeric(28, 8),
    max_orders_per_minute integer,
    updated_at            timestamptz not null default now(),
    updated_by            text not null
);

-- The kill switch. `kill_switch` is a single row: every order write takes it FOR SHARE and every
-- halt or resume takes it FOR UPDATE, so an order either commits before a halt or sees it.
create table kill_switch (
    id      integer primary key check (id = 1),
    version bigint not null default 0
);
insert into kill_switch (id) values (1);

create table halt (
    halt_id    bigserial primary key,
    scope      text not null check (scope in ('all', 'account', 'strategy')),
    account    text,
    strategy   text,
    reason     text not null,
    flatten    boolean not null default false,
    created_by text not null,
    created_at timestamptz not null default now(),
    resumed_by text,
    resumed_at timestamptz,
    check ((scope = 'account') = (account is not null) and (scope = 'strategy') = (strategy is not null))
);
create index halt_active on halt (halt_id) where resumed_at is null;

create table audit_log (
    audit_id bigserial primary key,
    actor    text not null,                  -- the API token's name, or `engine` for automatic actions
    action   text not null,
    target   text not null,
    detail   jsonb not null default '{}',
    ts       timestamptz not null default now()
);

create table equity_snapshot (
    account        text not null,
    ts             timestamptz not null,
    realized_pnl   numeric(28, 8) not null,
    unrealized_pnl numeric(28, 8) not null,
    equity         numeric(28, 8) not null,  -- realized + unrealized (P&L equity, no deposits)
    primary key (account, ts)
);
