-- The S3 Parquet archive of closed days (data-service/src/archive).
--
-- One manifest row per (symbol, day, kind) object. `verified_at` is set only after the object
-- was read back from the store and its row count and content checksum matched; a day's tick
-- partition is dropped (per ARCHIVE_RETENTION_DAYS) only when every symbol's ticks of that day
-- are verified and still match the partition's row counts.

create table archive_manifest (
    symbol_id   integer not null references symbol (symbol_id),
    day         date not null,
    kind        text not null check (kind in ('ticks', 'bars_1m')),
    object_key  text not null,
    rows        bigint not null check (rows >= 0),
    checksum    text not null,           -- SHA-256 (hex) of the rows' canonical content
    bytes       bigint not null,         -- size of the Parquet object
    written_at  timestamptz not null default now(),
    verified_at timestamptz,
    primary key (symbol_id, day, kind)
);

-- Days whose every object is verified; `pruned_at` once the tick partition was dropped.
create table archive_day (
    day         date primary key,
    archived_at timestamptz not null default now(),
    pruned_at   timestamptz
);
