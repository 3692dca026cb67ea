#!/usr/bin/env bash
# `make bench`: every benchmark, release builds, figures printed (and recorded by hand in
# docs/benchmarks.md). Uses its own PostgreSQL with fsync on (.local/pg-bench, port 54331),
# stopped again on exit. Servers and load share this machine's cores: compare figures from one run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

pgdir="$root/.local/pg-bench"
export HALYARD_TEST_DATABASE_URL=$(bash scripts/pg-local.sh start "$pgdir" 54331)
trap 'bash scripts/pg-local.sh stop "$pgdir" || true' EXIT

printf '\n==> data-service: ingest and queries\n'
cargo run --quiet --release -p data-service --example bench_market

printf '\n==> engine: webhook open loop and decision path\n'
cargo run --quiet --release -p engine --example bench_engine -- --rates 5000,10000,12000 --seconds 5

printf '\n==> backtester: 1,000,000 bars\n'
bash scripts/bench-backtest.sh
