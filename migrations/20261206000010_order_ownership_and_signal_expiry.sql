-- Order ownership with fencing (issue 15) and signal time-to-live.
--
-- engine_instance.epoch is the fencing token of an instance id: every start of a process under
-- that id increments it, and so does another instance declaring it gone before adopting its
-- orders. alive_since is when the instance's current unbroken run of heartbeats began (it
-- restarts after a gap longer than the lease TTL, e.g. a database outage); an instance may
-- declare another gone only when that one missed its heartbeats for a whole TTL inside the
-- observer's own unbroken run, so an outage seen by everyone never causes an adoption.
alter table engine_instance
    add column epoch       bigint      not null default 1,
    add column alive_since timestamptz not null default now();

-- The owner's epoch when it took the order (written, resumed after a restart, or adopted).
alter table "order" add column owner_epoch bigint;

-- When a queued signal stops being worth trading: the alert's time (or its receipt) plus the
-- engine's SIGNAL_MAX_AGE_SECS. Older rows have none and never expire.
alter table signal add column expires_at timestamptz;
