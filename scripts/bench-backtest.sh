#!/usr/bin/env bash
# Backtester benchmarks: SMA(10,30) over 1,000,000 synthetic bars (issue 4); a 10-leg portfolio
# of those bars and a tick replay of them (issue 17); the wasm sma_cross module beside the
# built-in (issue 18).
# Prints CSV load time, backtest loop time and rate, whole-process wall time and peak memory.
#
# The bar file is generated once into .local/ with ../shared/data/gen_bars.py (numpy + pandas
# from PyPI in .local/venv-data). Override with BENCH_BARS_FILE=... or HALYARD_SHARED=DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
bars=${BENCH_BARS:-1000000}
data=${BENCH_BARS_FILE:-$root/.local/bars_${bars}.csv}
shared=${HALYARD_SHARED:-$root/../shared}
venv=$root/.local/venv-data

if [[ ! -s "$data" ]]; then
    generator=$shared/data/gen_bars.py
    if [[ ! -f "$generator" ]]; then
        echo "bench-backtest: $generator not found (set HALYARD_SHARED or BENCH_BARS_FILE)" >&2
        exit 1
    fi
    if ! "$venv/bin/python" -c 'import numpy, pandas' 2>/dev/null; then
        echo "bench-backtest: installing numpy and pandas into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet numpy pandas
    fi
    mkdir -p "$(dirname "$data")"
    "$venv/bin/python" "$generator" --bars "$bars" --out "$data.tmp"
    mv "$data.tmp" "$data"
fi

cargo build --quiet --release -p backtest --example bench_backtest
binary=${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_backtest
out_dir=$root/.local/bench-backtest-out

measure() {
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f "process              %e s wall, %M KiB max RSS (/usr/bin/time)" "$@" 2>&1
    else
        local start_ns end_ns
        start_ns=$(date +%s%N)
        "$@"
        end_ns=$(date +%s%N)
        echo "process              $(( (end_ns - start_ns) / 1000000 )) ms wall"
    fi
}

echo "== backtest benchmark: $(nproc) cores, $(basename "$data")"
echo "-- loop (first run and best of 6), sweep scaling"
measure "$binary" "$data"
echo "-- whole process = the full backtest command: read CSV, run, print summary, write all outputs"
measure "$binary" "$data" --command "$out_dir" | grep -E '^(bars|round trips|realized P&L|data load|backtest loop|backtest command|process) '

echo "-- portfolio (10 legs x 1M bars) and tick replay (4M trades through level_breakout)"
cargo build --quiet --release -p backtest --example bench_portfolio
"${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_portfolio" "$data"

echo "-- strategy module (issue 18): the wasm sma_cross module against the built-in, same bars"
bash scripts/build-modules.sh
cargo build --quiet --release -p backtest --example bench_module
"${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_module" "$data" "$root/target/wasm-modules/sma-cross-module.wasm"
