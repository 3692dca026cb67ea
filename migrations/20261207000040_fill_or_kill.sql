-- Fill or kill: filled whole at once, or cancelled with nothing filled.
alter table "order" drop constraint order_time_in_force_check;
alter table "order" add constraint order_time_in_force_check check (time_in_force in ('gtc', 'ioc', 'day', 'fok'));
