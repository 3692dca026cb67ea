-- Instruments (issue 17): what a venue accepts for a symbol, checked by pre-trade risk (lot,
-- tick, minimum notional) and used by the paper venue to round prices; class and currency
-- describe it. A symbol without a row has no such rules.
create table instrument (
    symbol       text primary key,
    tick_size    numeric(28, 8) check (tick_size > 0),
    lot_size     numeric(28, 8) check (lot_size > 0),
    min_notional numeric(28, 8) check (min_notional >= 0),
    asset_class  text not null default 'other'
                 check (asset_class in ('equity', 'crypto', 'fx', 'future', 'option', 'other')),
    currency     text not null default 'USD' check (currency ~ '^[A-Z]{3,5}$'),
    updated_at   timestamptz not null default now(),
    updated_by   text not null
);
