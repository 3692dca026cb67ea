-- Daily reports written to the object store (engine/src/reports.rs): one row per UTC day once
-- both objects (reports/daily/YYYY-MM-DD.json and .html) are written.

create table daily_report (
    day        date primary key,
    accounts   integer not null,
    json_key   text not null,
    html_key   text not null,
    written_at timestamptz not null default now()
);
