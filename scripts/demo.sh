#!/usr/bin/env bash
# `make demo`: the whole platform on this machine, in the foreground. Ctrl-C stops everything.
#
# Without DATABASE_URL a throwaway PostgreSQL is started under .local/pg-demo (port 54330), and
# stopped and deleted on exit (HALYARD_KEEP_DEMO_DB=1 keeps its data for the next run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

say() { printf '[demo] %s\n' "$*"; }

say "building (the first build takes several minutes)"
cargo build -p data-service -p engine -p dashboard
say "building the dashboard's wasm client"
bash scripts/build-wasm.sh

pids=()
started_pg=""
cleanup() {
  trap - INT TERM EXIT
  say "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$started_pg" ]; then
    bash scripts/pg-local.sh stop "$started_pg" || true
    if [ "${HALYARD_KEEP_DEMO_DB:-0}" != 1 ]; then rm -rf "$started_pg" "$started_pg.lock" "$started_pg.initdb.log"; fi
    say "local PostgreSQL stopped"
  fi
  say "stopped"
}
trap cleanup INT TERM EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  started_pg="$root/.local/pg-demo"
  server=$(bash scripts/pg-local.sh start "$started_pg" 54330)
  psql "$server" -qtAc "select 1 from pg_database where datname = 'halyard'" | grep -q 1 \
    || psql "$server" -qc "create database halyard"
  export DATABASE_URL="${server%/postgres}/halyard"
  say "local PostgreSQL on port 54330 (data in .local/pg-demo)"
fi

target/debug/engine migrate
# Demo strategies (SMA crossover on 3 s bars, a TradingView follower) and a fresh API token.
engine_token=$(target/debug/engine seed-demo)
# Dashboard user `demo` (trader), with a fresh password on every run.
demo_password=$(target/debug/dashboard user create --username demo --role trader 2>/dev/null \
  || target/debug/dashboard user reset-password --username demo)

demo_bars="$root/demo/bars_demo.csv.gz"
if [ -f "$demo_bars" ]; then
  gunzip -c "$demo_bars" > "$root/.local/bars_demo.csv"
  target/debug/data-service import --symbol DEMO --file "$root/.local/bars_demo.csv"
  # Archive the demo's first (closed) day to Parquet: to ARCHIVE_BUCKET when set, else to the
  # local folder .local/archive. Against an emulator (AWS_ENDPOINT_URL), create the bucket first.
  if [ -n "${ARCHIVE_BUCKET:-}" ] && [ -n "${AWS_ENDPOINT_URL:-}" ]; then
    curl -sf -X PUT "${AWS_ENDPOINT_URL%/}/$ARCHIVE_BUCKET" >/dev/null || true
  fi
  ARCHIVE_DIR=${ARCHIVE_DIR:-$root/.local/archive} target/debug/data-service archive --date 2020-01-01
fi

engine_addr=${ENGINE_ADDR:-0.0.0.0:8080}
data_addr=${DATA_SERVICE_ADDR:-0.0.0.0:8081}
# Each service's settings, exactly the `demo` targets of deploy/settings.json (checked by
# scripts/infra/check_settings.py); anything else the binary reads keeps its default or comes
# from the caller's environment (e.g. ARCHIVE_BUCKET, AWS_ENDPOINT_URL).
data_service_env=(
  DATABASE_URL="$DATABASE_URL"
  MIGRATE_ON_START=false
  FEEDS="${FEEDS:-synthetic}"
  LISTEN_ADDR="$data_addr"
)
engine_env=(
  DATABASE_URL="$DATABASE_URL"
  MIGRATE_ON_START=false
  LISTEN_ADDR="$engine_addr"
  DATA_SERVICE_URL="http://localhost:${data_addr##*:}"
)
dashboard_env=(
  DATABASE_URL="$DATABASE_URL"
  MIGRATE_ON_START=false
  LISTEN_ADDR="${DASHBOARD_ADDR:-0.0.0.0:3000}"
  ENGINE_URL="http://localhost:${engine_addr##*:}"
  ENGINE_API_TOKEN="$engine_token"
  DATA_SERVICE_URL="http://localhost:${data_addr##*:}"
)
env "${data_service_env[@]}" target/debug/data-service serve &
pids+=($!)
env "${engine_env[@]}" target/debug/engine serve &
pids+=($!)
env "${dashboard_env[@]}" target/debug/dashboard serve &
pids+=($!)

for _ in $(seq 1 50); do
  curl -sf localhost:8081/readyz >/dev/null 2>&1 && curl -sf localhost:8080/readyz >/dev/null 2>&1 \
    && curl -sf localhost:3000/readyz >/dev/null 2>&1 && break
  sleep 0.2
done

cat <<MSG

  Halyard is running. Ctrl-C stops everything.

  data-service  http://localhost:8081   (/healthz, /readyz, /api/v1/market/openapi.json)
                live prices:  curl 'http://localhost:8081/api/v1/market/prices/BTCUSD?limit=5'
                bars:         curl 'http://localhost:8081/api/v1/market/bars/BTCUSD?interval=1m'
  engine        http://localhost:8080   (/healthz, /readyz, /api/v1/openapi.json)
                API token:  $engine_token
                orders:     curl -H 'Authorization: Bearer $engine_token' 'localhost:8080/api/v1/orders?account=demo&limit=5'
                positions:  curl -H 'Authorization: Bearer $engine_token' 'localhost:8080/api/v1/positions?account=demo'
                fills, pnl: .../api/v1/fills?account=demo   .../api/v1/pnl?account=demo
                signal:     curl -XPOST localhost:8080/api/v1/signals/tradingview -H 'content-type: text/plain' \\
                              -d '{"passphrase":"demo-passphrase","strategy":"demo-tv","ticker":"BTCUSD","action":"buy","quantity":"1","alert_id":"demo-1"}'
                halt:       curl -XPOST -H 'Authorization: Bearer $engine_token' -H 'content-type: application/json' \\
                              localhost:8080/api/v1/halt -d '{"reason":"demo","scope":"all"}'
  dashboard     http://localhost:3000   sign in as  demo / $demo_password  (role trader)
                more users: DATABASE_URL=... target/debug/dashboard user create --username NAME --role viewer

MSG
wait -n "${pids[@]}" || true
say "a service exited"
