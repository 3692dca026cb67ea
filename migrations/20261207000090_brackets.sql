-- Bracket orders (issue 17): an entry's take-profit and stop-loss legs wait (held) for the
-- entry, then work as a one-cancels-other pair. parent_order_id: the entry a leg waits for;
-- oco_group: legs that cancel each other (the entry's id); activated_at: when the entry's end
-- released the leg.
alter table "order"
    add column parent_order_id bigint references "order" (order_id),
    add column oco_group       bigint,
    add column activated_at    timestamptz;
create index order_parent on "order" (parent_order_id) where parent_order_id is not null;
create index order_oco_group on "order" (oco_group) where oco_group is not null;
