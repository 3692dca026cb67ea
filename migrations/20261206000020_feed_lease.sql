-- Market-data feeds run once per deployment: the data-service task holding a feed's lease runs
-- it; the others wait to take over. `epoch` is the fencing token: it grows whenever the lease
-- changes hands (or its holder let it lapse), and the ingest writer stores a feed's ticks only
-- while their epoch is still the lease's, in the same transaction, so a task that lost its lease
-- (paused, cut off from the database) can never store a trade the new holder also receives.
create table feed_lease (
    feed        text primary key,
    holder      text not null,
    epoch       bigint not null default 1,
    acquired_at timestamptz not null default now(),
    expires_at  timestamptz not null
);
