-- Amend (cancel/replace): the amended order is a new row naming the order it replaces. The old
-- one ends `replaced` once the venue confirms; an order is replaced at most once, so a retried
-- amend finds the first.
alter table "order" add column replaces bigint references "order" (order_id);
create unique index order_replaced_once on "order" (replaces) where replaces is not null;
drop index order_open;
create index order_open on "order" (status)
    where status in ('pending_new', 'new', 'partially_filled', 'pending_cancel', 'pending_replace');
