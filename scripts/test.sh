#!/usr/bin/env bash
# `make test`: every test the project has.
#  1. a throwaway PostgreSQL and the AWS emulator (moto) for the integration tests (both stopped
#     again on exit);
#  2. the example strategy modules built to wasm (scripts/build-modules.sh), the Rust workspace's
#     unit and integration tests, then the dashboard's browser test
#     (dashboard/e2e/run.sh: builds the dashboard's wasm client with scripts/build-wasm.sh, then
#     the three services and headless Chromium, all stopped again);
#  3. the infrastructure checks (terraform fmt/validate, checkov, apply/destroy against moto, and
#     between the two the deployment rehearsal: images built, run from the task definitions).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "starting the test PostgreSQL"
pgdir="$root/.local/pg-test"
export HALYARD_TEST_DATABASE_URL=$(bash scripts/pg-local.sh start "$pgdir" "${HALYARD_TEST_PG_PORT:-54329}" fast)
trap 'bash scripts/pg-local.sh stop "$pgdir" || true' EXIT

step "starting the AWS emulator (moto) for the S3, Secrets Manager and CloudWatch tests"
trap 'bash scripts/moto-server.sh stop || true; bash scripts/pg-local.sh stop "$pgdir" || true' EXIT
moto_url=$(bash scripts/moto-server.sh start)  # a separate line, so a failed start stops the run
export HALYARD_TEST_MOTO_URL=$moto_url

step "strategy modules for the sandbox's tests (scripts/build-modules.sh)"
bash scripts/build-modules.sh

step "Rust tests"
cargo test --workspace --no-fail-fast 2>&1 | tee "$root/.local/cargo-test.log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  echo "Rust tests failed (exit $status); see .local/cargo-test.log" >&2
  exit "$status"
fi

step "fault test: OpenAPI fuzz (scripts/fuzz.sh)"; t=$SECONDS; bash scripts/fuzz.sh; echo "fuzz: $((SECONDS - t)) s"
step "fault test: chaos (scripts/chaos.sh)"; t=$SECONDS; bash scripts/chaos.sh; echo "chaos: $((SECONDS - t)) s"

step "dashboard browser test (headless Chromium; screenshots in .local/screenshots/)"
bash dashboard/e2e/run.sh

if [ -f scripts/infra-test.sh ]; then
  step "infrastructure checks"
  bash scripts/infra-test.sh
fi

step "all tests passed"
