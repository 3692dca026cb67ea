#!/usr/bin/env bash
# Chaos test: two engine processes on one database under a signal load, through a SIGKILL and
# restart of one engine and a PostgreSQL stop/start, then the invariants checked in the database.
#
#   bash scripts/chaos.sh           (`make test` runs it after the Rust tests)
#
# Its own throwaway PostgreSQL (.local/pg-chaos, port CHAOS_PG_PORT, default 54334: it is stopped
# and started during the run, so it cannot be the tests' server), a data-service with the
# synthetic feed (live prices for the paper venue), engines chaos-a and chaos-b (webhook
# signatures required, production lease settings), TradingView strategies `chaos-tv-0..7` (CHAOS_STRATEGIES)
# on the paper venue. scripts/chaos/load.py sends CHAOS_SIGNALS (600) signed alerts at CHAOS_RATE (30/s) to
# both engines; during the load engine chaos-a is killed with SIGKILL and restarted under the same
# INSTANCE_ID, then PostgreSQL is stopped for a few seconds and started again. After a settle
# period (until nothing is pending or open, at most CHAOS_SETTLE_SECONDS, 60),
# scripts/chaos/check.py checks: every alert answered 2xx stored; none pending; exactly one order
# per processed signal; every position equal to the signed sum of its fills; no order left open.
# Exits non-zero on any violation. Logs in .local/chaos/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '[chaos] %s\n' "$*" >&2; }
source scripts/fuzz/lib.sh

count=${CHAOS_SIGNALS:-600}
rate=${CHAOS_RATE:-30}
settle=${CHAOS_SETTLE_SECONDS:-60}
pg_port=${CHAOS_PG_PORT:-54334}
pgdir="$root/.local/pg-chaos"
work="$root/.local/chaos"
rm -rf "$work"; mkdir -p "$work"
started=$(date +%s)
binaries

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash scripts/pg-local.sh stop "$pgdir" || true
}
trap cleanup EXIT

# A fresh cluster every run: the checks read the whole database.
bash scripts/pg-local.sh stop "$pgdir" 2>/dev/null || true
rm -rf "$pgdir"
server=$(bash scripts/pg-local.sh start "$pgdir" "$pg_port" fast)
psql "$server" -qAtc "create database halyard" >/dev/null
db="${server%/*}/halyard"
DATABASE_URL=$db target/debug/engine migrate >/dev/null
token=$(DATABASE_URL=$db target/debug/engine token create --name chaos)

export DATABASE_URL=$db MIGRATE_ON_START=false RUST_LOG=${RUST_LOG:-info} LOG_FORMAT=json
export SIGNAL_HMAC_SECRET="chaos-hmac-$(date +%s%N)"
data_port=$(free_port); port_a=$(free_port); port_b=$(free_port)
FEEDS=synthetic SYNTHETIC_SYMBOLS=BTCUSD,ETHUSD,AAPL LISTEN_ADDR=127.0.0.1:$data_port target/debug/data-service serve >"$work/data-service.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$data_port/readyz"

# start_engine NAME PORT: prints the pid.
start_engine() {
  INSTANCE_ID=chaos-$1 LISTEN_ADDR=127.0.0.1:$2 DATA_SERVICE_URL=http://127.0.0.1:$data_port \
    ARCHIVE_DIR="$work/archive" target/debug/engine serve >>"$work/engine-$1.log" 2>&1 &
  echo $!
}
pid_a=$(start_engine a "$port_a"); pids+=("$pid_a")
pid_b=$(start_engine b "$port_b"); pids+=("$pid_b")
wait_http "http://127.0.0.1:$port_a/readyz"
wait_http "http://127.0.0.1:$port_b/readyz"

# TradingView strategies chaos-tv-0..N-1 on one account and three symbols: every (strategy,
# symbol) is a position whose first fills the two engines book at the same moment.
passphrase="chaos-passphrase-$RANDOM"
strategies=()
for i in $(seq 0 $((${CHAOS_STRATEGIES:-8} - 1))); do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$port_a/api/v1/strategies" \
    -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"name\":\"chaos-tv-$i\",\"kind\":\"signal_follower\",\"params\":{\"quantity\":\"1\"},\"account\":\"chaos\",
         \"symbols\":[\"BTCUSD\",\"ETHUSD\",\"AAPL\"],\"bar_seconds\":60,\"passphrase\":\"$passphrase\",\"enabled\":true}" \
    || { echo "could not create the chaos strategy chaos-tv-$i" >&2; exit 1; }
  strategies+=("chaos-tv-$i")
done
# The paper venue fills market orders at the next trade: wait until both symbols have prices.
for symbol in BTCUSD ETHUSD AAPL; do wait_http "http://127.0.0.1:$data_port/api/v1/market/prices/$symbol?limit=1"; done

say "load: $count signed alerts at $rate/s to chaos-a and chaos-b, over ${#strategies[@]} strategies x 3 symbols"
CHAOS_STRATEGIES=$(IFS=,; echo "${strategies[*]}") CHAOS_PASSPHRASE=$passphrase CHAOS_SYMBOLS=BTCUSD,ETHUSD,AAPL CHAOS_HMAC_SECRET=$SIGNAL_HMAC_SECRET \
  python3 scripts/chaos/load.py "$work/load.tsv" "$count" "$rate" "http://127.0.0.1:$port_a" "http://127.0.0.1:$port_b" &
load_pid=$!

# The faults, spread over the load (at 600 alerts and 30/s it lasts 20 s).
span=$(python3 -c "print($count / $rate)")
at() { python3 -c "print($span * $1)"; }
sleep "$(at 0.2)"
say "SIGKILL chaos-a (pid $pid_a)"
kill -KILL "$pid_a"; wait "$pid_a" 2>/dev/null || true
sleep 1.5
pid_a=$(start_engine a "$port_a"); pids+=("$pid_a")
wait_http "http://127.0.0.1:$port_a/healthz"
say "chaos-a restarted under the same INSTANCE_ID (pid $pid_a)"
sleep "$(at 0.2)"
say "stopping PostgreSQL"
bash scripts/pg-local.sh stop "$pgdir"
sleep 4
bash scripts/pg-local.sh start "$pgdir" "$pg_port" fast >/dev/null
say "PostgreSQL started again"
wait "$load_pid"

say "settling (at most ${settle}s)"
for _ in $(seq 1 "$settle"); do
  left=$(psql "$db" -qAtc "select (select count(*) from signal where status = 'pending')
                                 + (select count(*) from \"order\"
                                     where status in ('pending_new', 'new', 'partially_filled', 'pending_cancel'))" \
         2>/dev/null || echo unknown)
  [ "$left" = 0 ] && break
  sleep 1
done

status=0
python3 scripts/chaos/check.py "$db" "$work/load.tsv" chaos-tv || status=$?
errors=$(cat "$work"/engine-*.log | grep -c '"status":5[0-9][0-9]' || true)
say "engine requests answered 5xx during the run: $errors (503 is expected while the database is down)"
say "done in $(( $(date +%s) - started ))s"
exit "$status"
