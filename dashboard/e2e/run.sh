#!/usr/bin/env bash
# The dashboard's browser test against a running platform: builds the three services and the
# dashboard's wasm client (scripts/build-wasm.sh), starts
# them on a fresh database with the synthetic feed, creates a trader, a viewer and an admin, and drives
# headless Chromium through dashboard.e2e.mjs. Screenshots go to .local/screenshots/.
# Every process it starts is stopped on exit and the database is dropped.
#
# Needs PostgreSQL: HALYARD_TEST_DATABASE_URL (make test sets it) or the test harness's own
# cluster under .local/pg-test, started here when needed and left running like plain
# `cargo test` leaves it (other test processes may share it; `make pg-stop` stops it). Installs chromium, node and npm with apt-get
# when missing and running as root; playwright-core never downloads a browser.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
e2e="$root/dashboard/e2e"
logs="$root/.local/e2e"
mkdir -p "$logs"
say() { printf '[e2e] %s\n' "$*"; }

need_apt() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "missing $1 and cannot install it (needs root and apt-get): install it and rerun" >&2
    exit 1
  fi
  say "installing $*"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
chromium_bin=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium_bin" ] || need_apt chromium
command -v node >/dev/null && command -v npm >/dev/null || need_apt nodejs npm

if [ ! -d "$e2e/node_modules/playwright-core" ]; then
  say "installing playwright-core (no browser download)"
  (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

say "building the services"
cargo build -q -p data-service -p engine -p dashboard
# The dashboard's wasm client: the test asserts that the pages hydrate.
bash scripts/build-wasm.sh

pids=()
server_url=""
db=""
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$db" ]; then psql "$server_url" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true; fi
}
trap cleanup INT TERM EXIT

if [ -n "${HALYARD_TEST_DATABASE_URL:-}" ]; then
  server_url=$HALYARD_TEST_DATABASE_URL
else
  server_url=$(bash scripts/pg-local.sh start "$root/.local/pg-test" "${HALYARD_TEST_PG_PORT:-54329}" fast)
fi
db="e2e_dashboard_$$"
psql "$server_url" -qc "create database $db" >/dev/null
export DATABASE_URL="${server_url%/*}/$db"

data_port=${E2E_DATA_SERVICE_PORT:-38081}
engine_port=${E2E_ENGINE_PORT:-38080}
dash_port=${E2E_DASHBOARD_PORT:-38000}
for port in "$data_port" "$engine_port" "$dash_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use; set E2E_DATA_SERVICE_PORT/E2E_ENGINE_PORT/E2E_DASHBOARD_PORT" >&2
    exit 1
  fi
done

target/debug/engine migrate >/dev/null
engine_token=$(target/debug/engine seed-demo)
password="e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
DASHBOARD_PASSWORD=$password target/debug/dashboard user create --username e2e-trader --role trader >/dev/null
DASHBOARD_PASSWORD=$password target/debug/dashboard user create --username e2e-viewer --role viewer >/dev/null
DASHBOARD_PASSWORD=$password target/debug/dashboard user create --username e2e-admin --role admin >/dev/null

# Ten hours of 1-minute bars of a symbol of its own (a slow wave with a drift) for the backtest
# step: the synthetic feed's bars would need minutes of waiting, and these are the same on
# every run, so the run's result is too.
backtest_bars="$logs/e2e-backtest-bars.csv"
awk 'BEGIN {
  print "timestamp,open,high,low,close,volume"
  start = 1767571200000; prev = 100
  for (i = 0; i < 600; i++) {
    last = 100 + 4 * sin(i / 9) + 1.5 * sin(i / 2.3) + i * 0.004
    high = (prev > last ? prev : last) + 0.05; low = (prev < last ? prev : last) - 0.05
    printf "%.0f,%.2f,%.2f,%.2f,%.2f,%d\n", start + i * 60000, prev, high, low, last, 10 + i % 7
    prev = last
  }
}' >"$backtest_bars"
target/debug/data-service import --symbol E2EBT --file "$backtest_bars" >/dev/null
# 300,000 1-minute bars (2025-01-01 to 2025-07-28) for a run that lasts seconds, so its page
# shows the progress while it runs (about 4 s to import here).
long_bars="$logs/e2e-long-bars.csv"
awk 'BEGIN {
  print "timestamp,open,high,low,close,volume"
  start = 1735689600000; prev = 100
  for (i = 0; i < 300000; i++) {
    last = 100 + 4 * sin(i / 90) + 1.5 * sin(i / 23)
    high = (prev > last ? prev : last) + 0.05; low = (prev < last ? prev : last) - 0.05
    printf "%.0f,%.2f,%.2f,%.2f,%.2f,%d\n", start + i * 60000, prev, high, low, last, 10 + i % 7
    prev = last
  }
}' >"$long_bars"
target/debug/data-service import --symbol E2ELONG --file "$long_bars" >/dev/null

export MIGRATE_ON_START=false RUST_LOG=${RUST_LOG:-info} LOG_FORMAT=pretty
FEEDS=synthetic LISTEN_ADDR="127.0.0.1:$data_port" target/debug/data-service serve >"$logs/data-service.log" 2>&1 &
pids+=($!)
DATA_SERVICE_URL="http://127.0.0.1:$data_port" LISTEN_ADDR="127.0.0.1:$engine_port" ARCHIVE_DIR="$logs/archive" \
  target/debug/engine serve >"$logs/engine.log" 2>&1 &
pids+=($!)
ENGINE_URL="http://127.0.0.1:$engine_port" ENGINE_API_TOKEN=$engine_token \
  DATA_SERVICE_URL="http://127.0.0.1:$data_port" LISTEN_ADDR="127.0.0.1:$dash_port" \
  target/debug/dashboard serve >"$logs/dashboard.log" 2>&1 &
pids+=($!)

ready=""
for _ in $(seq 1 100); do
  if curl -sf "127.0.0.1:$data_port/readyz" >/dev/null && curl -sf "127.0.0.1:$engine_port/readyz" >/dev/null \
    && curl -sf "127.0.0.1:$dash_port/readyz" >/dev/null; then
    ready=1
    break
  fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "the services did not become ready; logs in .local/e2e/" >&2
  exit 1
fi

# Stale pictures of an earlier run must not pass for this one's.
rm -f "$root/.local/screenshots/"*.png
say "driving headless Chromium"
BASE_URL="http://127.0.0.1:$dash_port" ENGINE_URL="http://127.0.0.1:$engine_port" ENGINE_API_TOKEN=$engine_token \
  DATA_SERVICE_URL="http://127.0.0.1:$data_port" \
  TRADER_USER=e2e-trader VIEWER_USER=e2e-viewer ADMIN_USER=e2e-admin USER_PASSWORD=$password CHROMIUM=$chromium_bin \
  SCREENSHOT_DIR="$root/.local/screenshots" node "$e2e/dashboard.e2e.mjs"
