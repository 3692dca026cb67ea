# Shared by scripts/fuzz.sh and scripts/chaos.sh (sourced, not run): the Python venv, the
# debug binaries, a database for the run, and starting/stopping the services.
# Expects $root (the checkout) and a `say` function.

# venv DIR PACKAGES...: a virtualenv with exactly these pinned packages, reused while the pins
# are unchanged (the pins are recorded in DIR/.pins).
venv() {
  local dir=$1; shift
  local pins="$*"
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.pins" 2>/dev/null)" != "$pins" ]; then
    say "installing $pins into ${dir#"$root"/}"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "$@"
    echo "$pins" > "$dir/.pins"
  fi
}

# binaries: the three debug binaries that `cargo test --workspace` built; built here if absent.
binaries() {
  local missing=()
  for b in engine data-service dashboard; do
    [ -x "$root/target/debug/$b" ] || missing+=(-p "$b")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "building ${missing[*]}"
    cargo build "${missing[@]}" >&2
  fi
}

# database NAME: a fresh, migrated database; prints its URL. Inside `make test` it is created in
# the test server (HALYARD_TEST_DATABASE_URL); alone, in a throwaway server under
# .local/pg-$NAME on $FAULT_PG_PORT, which the caller stops (see `stop_pg`).
database() {
  local name=$1 server
  if [ -n "${HALYARD_TEST_DATABASE_URL:-}" ] && [ -z "${FAULT_OWN_PG:-}" ]; then
    server=$HALYARD_TEST_DATABASE_URL
  else
    own_pg="$root/.local/pg-$name"
    server=$(bash "$root/scripts/pg-local.sh" start "$own_pg" "$FAULT_PG_PORT" fast)
  fi
  PGOPTIONS="-c client_min_messages=warning" psql "$server" -qAtc "drop database if exists $name with (force)" >/dev/null
  psql "$server" -qAtc "create database $name" >/dev/null
  local url="${server%/*}/$name"
  DATABASE_URL=$url "$root/target/debug/engine" migrate >/dev/null
  echo "$url"
}

stop_pg() {
  if [ -n "${own_pg:-}" ]; then bash "$root/scripts/pg-local.sh" stop "$own_pg" || true; fi
}

# free_port: a port nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL [SECONDS]: until URL answers 2xx.
wait_http() {
  local url=$1 limit=${2:-30} i
  for i in $(seq 1 $((limit * 5))); do
    curl -sf -o /dev/null "$url" && return 0
    sleep 0.2
  done
  echo "no answer from $url within ${limit}s" >&2
  return 1
}
