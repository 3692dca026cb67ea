-- Market data: symbols, ticks and 1-minute bars.
--
-- Ticks are partitioned by UTC day and bars by UTC month, so whole days can be archived to S3
-- and dropped without a large DELETE. Partitions are created on demand by
-- halyard_ensure_partition() before a batch is written.

create table symbol (
    symbol_id  serial primary key,
    symbol     text not null unique check (symbol ~ '^[A-Z0-9][A-Z0-9._:/-]{0,31}$'),
    created_at timestamptz not null default now()
);

create sequence tick_id_seq cache 1000;

create table tick (
    tick_id   bigint not null default nextval('tick_id_seq'),
    symbol_id integer not null,
    ts        timestamptz not null,
    price     numeric(28, 10) not null check (price > 0),
    size      numeric(28, 10) not null check (size >= 0)
) partition by range (ts);

-- (symbol, time) serves quotes, price history and paging; tick_id breaks ties between ticks
-- with the same timestamp so cursors are exact.
create index tick_symbol_ts on tick (symbol_id, ts, tick_id);

create table bar_1m (
    symbol_id integer not null,
    ts        timestamptz not null,   -- the bar's open time, on a whole minute
    open      numeric(28, 10) not null,
    high      numeric(28, 10) not null,
    low       numeric(28, 10) not null,
    close     numeric(28, 10) not null,
    volume    numeric(28, 10) not null,
    trades    integer not null,
    -- First and last tick times folded into the bar, so ticks arriving out of order across
    -- batches still give the right open and close.
    first_ts  timestamptz not null,
    last_ts   timestamptz not null,
    primary key (symbol_id, ts)
) partition by range (ts);

-- Sum and count of closes per closed UTC day: makes a year-long average a few hundred rows
-- instead of half a million. Rows are derived from bar_1m on demand and deleted whenever a
-- bar of that day changes.
create table bar_day_stats (
    symbol_id integer not null,
    day       date not null,
    close_sum numeric not null,
    bar_count integer not null,
    primary key (symbol_id, day)
);

-- Creates the partition of `parent` covering [from_ts, to_ts) named parent_suffix, unless it
-- exists. Safe to call from several writers at once.
create function halyard_ensure_partition(parent text, suffix text, from_ts timestamptz, to_ts timestamptz)
returns void language plpgsql as $$
begin
    if to_regclass(parent || '_' || suffix) is not null then
        return;
    end if;
    begin
        execute format('create table %I partition of %I for values from (%L) to (%L)',
                       parent || '_' || suffix, parent, from_ts, to_ts);
    exception when duplicate_table or unique_violation then
        null; -- another writer created it first
    end;
end;
$$;
