-- Busts and corrections: a venue may break (bust) an execution after the fact, or correct its
-- quantity or price. Booked history is never edited: a bust is a reversing row (`kind = 'bust'`,
-- the opposite side, the same quantity and price, the fee refunded) that names the execution it
-- reverses, and a correction is that reversal plus a new execution (`kind = 'correction'`) in
-- the corrected one's place. The position is rebuilt by replaying the executions still standing
-- in their original order (`replay_seq`, the replaced row's place); the reversing row carries
-- the difference in realized P&L, so sums of `realized_pnl`, `fee` and signed `qty` over all
-- rows stay equal to the position's.
alter table fill
    add column kind text not null default 'execution' check (kind in ('execution', 'bust', 'correction')),
    add column reverses bigint references fill (fill_id),
    add column replay_seq bigint,
    add column note text;
-- An execution is reversed at most once: a replayed bust finds it reversed already.
create unique index fill_reversed_once on fill (reverses) where reverses is not null;
create index fill_position on fill (account, strategy, symbol, fill_id);
