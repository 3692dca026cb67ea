-- Pre-trade risk reads, for every order written to a live venue, the buy orders sent to that
-- venue since its buying power was read: by venue and creation time.
create index order_venue_created on "order" (venue, created_at);
