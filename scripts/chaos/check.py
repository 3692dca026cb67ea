"""The invariants scripts/chaos.sh checks in the database once the load has settled.

usage: check.py DATABASE_URL LOAD.tsv STRATEGY_PREFIX

1. every alert the webhook answered 2xx is stored as a signal (by its alert_id);
2. no signal is left pending;
3. every processed signal has exactly one order, every ignored or failed one none;
4. every position equals the signed sum of its fills (and no fills lack a position);
5. no order is left pending_new, new, partially_filled or pending_cancel.
Prints the figures and exits 1 on any violation.
"""
import subprocess
import sys


def query(url: str, sql: str) -> list[list[str]]:
    out = subprocess.run(["psql", url, "-qAtX", "-F", "\t", "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def main() -> None:
    url, load, strategy = sys.argv[1:4]
    answered = {}
    for line in open(load):
        alert_id, status, _ = line.rstrip("\n").split("\t")
        answered[alert_id] = int(status)
    accepted = {a for a, s in answered.items() if 200 <= s < 300}
    violations = []

    stored = {row[0] for row in query(url, f"select dedupe_key from signal where strategy like '{strategy}%'")}
    lost = sorted(accepted - stored)
    print(f"[chaos] alerts sent {len(answered)}, answered 2xx {len(accepted)}, stored {len(stored)}, "
          f"accepted but not stored {len(lost)}")
    if lost:
        violations.append(f"{len(lost)} accepted alerts not stored, e.g. {lost[:5]}")

    statuses = dict((s, int(n)) for s, n in query(url, "select status, count(*) from signal group by 1"))
    print(f"[chaos] signals by status {statuses}")
    if statuses.get("pending", 0):
        violations.append(f"{statuses['pending']} signals still pending")
    expired = query(url, "select count(*) from signal where status = 'failed' and note like 'expired%'")[0][0]
    print(f"[chaos] signals failed as expired: {expired}")

    wrong = query(
        url,
        """select s.signal_id, s.status, count(o.order_id)
             from signal s left join "order" o on o.signal_id = s.signal_id
            group by s.signal_id, s.status
           having (s.status = 'processed' and count(o.order_id) <> 1)
               or (s.status <> 'processed' and count(o.order_id) <> 0)
            order by 1""",
    )
    orders = query(url, 'select count(*), count(distinct signal_id) from "order" where signal_id is not null')[0]
    print(f"[chaos] signal orders {orders[0]} for {orders[1]} signals; signals with a wrong number of orders {len(wrong)}")
    if wrong:
        violations.append(f"{len(wrong)} signals without exactly one order where they trade, e.g. {wrong[:5]}")

    drift = query(
        url,
        """with f as (
               select account, strategy, symbol,
                      sum(case when side = 'buy' then qty else -qty end) as qty, count(*) as fills
                 from fill group by 1, 2, 3)
           select coalesce(p.account, f.account), coalesce(p.strategy, f.strategy), coalesce(p.symbol, f.symbol),
                  coalesce(p.qty, 0), coalesce(f.qty, 0), coalesce(f.fills, 0)
             from position p full join f using (account, strategy, symbol)
            where coalesce(p.qty, 0) <> coalesce(f.qty, 0)
            order by 1, 2, 3""",
    )
    positions = query(url, "select count(*) from position")[0][0]
    fills = query(url, "select count(*) from fill")[0][0]
    print(f"[chaos] positions {positions}, fills {fills}, positions unequal to their fills {len(drift)}")
    for account, strat, symbol, qty, summed, n in drift[:10]:
        print(f"[chaos]   {account}/{strat}/{symbol}: position {qty}, fills sum to {summed} ({n} fills)")
    if drift:
        violations.append(f"{len(drift)} positions differ from the signed sum of their fills")

    open_orders = query(
        url,
        """select order_id, strategy, status, instance_id, now() - updated_at
             from "order" where status in ('pending_new', 'new', 'partially_filled', 'pending_cancel')
            order by 1""",
    )
    by_status = dict((s, int(n)) for s, n in query(url, 'select status, count(*) from "order" group by 1'))
    print(f"[chaos] orders by status {by_status}; left open {len(open_orders)}")
    for row in open_orders[:10]:
        print(f"[chaos]   order {row[0]} ({row[1]}) {row[2]} owned by {row[3]}, unchanged for {row[4]}")
    if open_orders:
        violations.append(f"{len(open_orders)} orders left open")

    if violations:
        for v in violations:
            print(f"[chaos] VIOLATION: {v}", file=sys.stderr)
        sys.exit(1)
    print("[chaos] all invariants hold")


if __name__ == "__main__":
    main()
