#!/usr/bin/env bash
# Property-based fuzz of the three services' OpenAPI documents (schemathesis), failing on any 5xx.
#
#   bash scripts/fuzz.sh            (`make test` runs it after the Rust tests)
#
# Starts a fresh database (in the test server when HALYARD_TEST_DATABASE_URL is set, else a
# throwaway PostgreSQL on FAULT_PG_PORT, default 54333), the debug binaries of the data-service
# (synthetic feed), the engine (webhook signatures required) and the dashboard, with a real
# TradingView strategy (`fuzz-tv`, webhook passphrase) and a signed-in dashboard user; then runs
# every operation of each document with the check `not_a_server_error`, seeded (FUZZ_SEED,
# default 1515) and time-bounded (FUZZ_SECONDS per service, default 30). scripts/fuzz/hooks.py
# gives most webhook bodies the real strategy, passphrase and symbols and signs them
# (X-Halyard-Signature), and gives dashboard forms the session's CSRF token, so the fuzzer
# reaches the signal queue and the pages' real work rather than stopping at 401/403/404.
# Prints the generated cases per service; the reports are in .local/fuzz/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '[fuzz] %s\n' "$*" >&2; }
source scripts/fuzz/lib.sh

SCHEMATHESIS_VERSION=4.32.5
seed=${FUZZ_SEED:-1515}
seconds=${FUZZ_SECONDS:-30}
export FAULT_PG_PORT=${FAULT_PG_PORT:-54333}
work="$root/.local/fuzz"
rm -rf "$work"; mkdir -p "$work"
started=$(date +%s)

venv "$root/.local/venv-fuzz" "schemathesis==$SCHEMATHESIS_VERSION"
binaries

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_pg
}
trap cleanup EXIT

db=$(database halyard_fuzz)
engine_port=$(free_port); data_port=$(free_port); dash_port=$(free_port)
hmac_secret="fuzz-hmac-$(date +%s%N)"
passphrase="fuzz-passphrase-$RANDOM"
token=$(DATABASE_URL=$db target/debug/engine seed-demo)
password=$(DATABASE_URL=$db target/debug/dashboard user create --username fuzzer --role trader 2>/dev/null)

export DATABASE_URL=$db MIGRATE_ON_START=false RUST_LOG=${RUST_LOG:-info} LOG_FORMAT=json
FEEDS=synthetic LISTEN_ADDR=127.0.0.1:$data_port target/debug/data-service serve >"$work/data-service.log" 2>&1 &
pids+=($!)
LISTEN_ADDR=127.0.0.1:$engine_port DATA_SERVICE_URL=http://127.0.0.1:$data_port SIGNAL_HMAC_SECRET=$hmac_secret \
  ARCHIVE_DIR="$work/archive" INSTANCE_ID=engine-fuzz target/debug/engine serve >"$work/engine.log" 2>&1 &
pids+=($!)
# COOKIE_SECURE=false: the sign-in client (requests) sends no Secure cookie over http://127.0.0.1.
COOKIE_SECURE=false LISTEN_ADDR=127.0.0.1:$dash_port ENGINE_URL=http://127.0.0.1:$engine_port ENGINE_API_TOKEN=$token \
  DATA_SERVICE_URL=http://127.0.0.1:$data_port target/debug/dashboard serve >"$work/dashboard.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$data_port/readyz"
wait_http "http://127.0.0.1:$engine_port/readyz"
wait_http "http://127.0.0.1:$dash_port/readyz"

# The real strategy the webhook cases trade with, created through the API as a user would.
symbols="BTCUSD,ETHUSD"
curl -sf -o /dev/null -X POST "http://127.0.0.1:$engine_port/api/v1/strategies" \
  -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d "{\"name\":\"fuzz-tv\",\"kind\":\"signal_follower\",\"params\":{\"quantity\":\"1\"},\"account\":\"fuzz\",
       \"symbols\":[\"BTCUSD\",\"ETHUSD\"],\"bar_seconds\":60,\"passphrase\":\"$passphrase\",\"enabled\":true}" \
  || { echo "could not create the fuzz strategy" >&2; exit 1; }
# The dashboard session: cookie and CSRF token, as a browser gets them.
read -r session csrf < <(.local/venv-fuzz/bin/python scripts/fuzz/sign_in.py "http://127.0.0.1:$dash_port" fuzzer "$password")

export SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$root/scripts/fuzz"
export FUZZ_STRATEGY=fuzz-tv FUZZ_PASSPHRASE=$passphrase FUZZ_SYMBOLS=$symbols FUZZ_HMAC_SECRET=$hmac_secret \
  FUZZ_CSRF=$csrf
failed=()
known_hits=0
# run NAME URL [extra schemathesis options]
run() {
  local name=$1 url=$2; shift 2
  say "$name: $url (seed $seed, ${seconds}s)"
  set +e
  .local/venv-fuzz/bin/schemathesis run "$url" --checks not_a_server_error --seed "$seed" --max-time "$seconds" \
    --workers 1 --request-timeout 10 --no-color --generation-database none --continue-on-failure \
    --report junit --report-junit-path "$work/$name.junit.xml" "$@" >"$work/$name.out" 2>&1
  local status=$?
  set -e
  local cases
  cases=$(grep -Eo '[0-9]+ generated' "$work/$name.out" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
  local operations
  operations=$(grep -Eo '[0-9]+ selected' "$work/$name.out" | head -n 1 | grep -Eo '[0-9]+' || echo '?')
  printf '[fuzz] %-13s %6s cases over %s operations, exit %s\n' "$name" "$cases" "$operations" "$status" >&2
  echo "$name $cases" >> "$work/cases.txt"
  # The operations that failed (5xx) and those schemathesis itself could not test.
  local failing errors unknown
  failing=$(sed -n '/^=* FAILURES =*$/,/^=* [A-Z]* =*$/p' "$work/$name.out" | sed -nE 's/^_+ ([A-Z]+ [^ ]+) _+$/\1/p' | sort -u)
  errors=$(sed -n '/^=* ERRORS =*$/,/^=* [A-Z]* =*$/p' "$work/$name.out" | sed -nE 's/^_+ ([A-Z]+ [^ ]+) _+$/\1/p' | sort -u)
  local known op
  known=$(grep -v '^#' scripts/fuzz/known-5xx.txt || true)
  unknown=""
  while read -r op; do
    [ -n "$op" ] || continue
    if grep -qxF "$name $op" <<< "$known"; then
      say "$name: KNOWN server error (scripts/fuzz/known-5xx.txt): $op"
      known_hits=$((known_hits + 1))
    else
      unknown="$unknown $op"
    fi
  done <<< "$failing"
  if [ "$cases" -eq 0 ] || [ -n "$errors" ] || [ -n "$unknown" ] \
     || { [ "$status" -ne 0 ] && [ -z "$failing" ]; }; then
    failed+=("$name")
    if [ -n "$errors" ]; then say "$name: operations schemathesis could not test: $(echo $errors)"; fi
    sed -n '/FAILURES/,$p' "$work/$name.out" | head -n 150 >&2
  fi
}
run engine "http://127.0.0.1:$engine_port/api/v1/openapi.json" -H "Authorization: Bearer $token"
# The signal path must have been reached: alerts with the real strategy stored and processed.
accepted=$(psql "$db" -qAtc "select count(*) from signal where strategy = 'fuzz-tv'")
say "engine: $accepted signed webhook alerts stored for fuzz-tv"
if [ "$accepted" -eq 0 ]; then
  echo "the fuzzer stored no signal: the webhook hooks (scripts/fuzz/hooks.py) no longer reach the queue" >&2
  failed+=(signals)
fi
run data-service "http://127.0.0.1:$data_port/api/v1/market/openapi.json"
run dashboard "http://127.0.0.1:$dash_port/api/openapi.json" -H "Cookie: halyard_session=$session"

# 5xx the server logged itself (a panic or an error answer the checks could not see).
for name in engine data-service dashboard; do
  if grep -E '"status":5[0-9][0-9]|panicked' "$work/$name.log" >"$work/$name.5xx" 2>/dev/null; then
    say "$name logged server errors (first lines):"; head -n 5 "$work/$name.5xx" >&2
  fi
done

say "done in $(( $(date +%s) - started ))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: server errors or no cases in: ${failed[*]} (details above; full output in .local/fuzz/)" >&2
  exit 1
fi
if [ "$known_hits" -gt 0 ]; then
  say "no server errors except $known_hits known ones (scripts/fuzz/known-5xx.txt)"
else
  say "0 server errors"
fi
