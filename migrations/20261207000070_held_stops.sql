-- Stops the engine emulates (issue 17): held at the engine in status 'held' until a trade reaches
-- their trigger, then sent to the venue as the market or limit order they become.
-- emulated: the engine holds (held) or held (sent since) the trigger; trigger_reference: a held
-- trailing stop's best price so far, kept so a restarted or another engine trails on from it;
-- triggered_at: when its trigger was reached.
alter table "order"
    add column emulated          boolean not null default false,
    add column trigger_reference numeric(28, 8),
    add column triggered_at      timestamptz;
create index order_held on "order" (symbol) where status = 'held';
