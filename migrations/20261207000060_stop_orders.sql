-- Stop, stop-limit and trailing stop orders, and reduce-only orders (issue 17).
-- stop_price: the trigger of stop and stop_limit orders; trail_amount or trail_percent: how far
-- a trailing stop follows the market (percent: 1.5 = 1.5 %).
alter table "order" drop constraint order_order_type_check;
alter table "order" add constraint order_order_type_check
    check (order_type in ('market', 'limit', 'stop', 'stop_limit', 'trailing_stop'));
alter table "order"
    add column stop_price    numeric(28, 8),
    add column trail_amount  numeric(28, 8),
    add column trail_percent numeric(10, 4),
    add column reduce_only   boolean not null default false,
    add constraint order_stop_fields_check check (
        (order_type in ('stop', 'stop_limit')) = (stop_price is not null)
        and (order_type in ('limit', 'stop_limit')) = (limit_price is not null)
        and (order_type = 'trailing_stop') = ((trail_amount is not null) <> (trail_percent is not null))
        and (order_type = 'trailing_stop' or (trail_amount is null and trail_percent is null))
    );
