-- A reduce-only halt: orders in its scope may close positions but not open or grow them, and
-- only the working orders that would grow a position are cancelled. A halt without it blocks
-- every new order in its scope, as before.
alter table halt add column reduce_only boolean not null default false;
