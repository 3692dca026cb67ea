#!/usr/bin/env bash
# A throwaway local PostgreSQL for `make demo`, `make test` and `make bench`.
#
#   scripts/pg-local.sh start DIR PORT [fast]   initdb if needed, start if not running; prints the URL
#   scripts/pg-local.sh stop DIR                stop the server (the data stays until you delete DIR)
#   scripts/pg-local.sh url DIR PORT            print the URL
#
# `fast` turns fsync off: for tests only, never for data you care about.
# initdb refuses to run as root, so as root the cluster runs as the `postgres` system user
# (created if absent). Calls are serialised with flock, so concurrent test processes share one server.
set -euo pipefail

cmd=${1:?usage: pg-local.sh start|stop|url DIR [PORT] [fast]}
dir=${2:?data directory required}
dir=$(realpath -m "$dir")  # the server resolves its socket directory relative to the data directory
port=${3:-54329}
mode=${4:-}

find_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  return 1
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "pg-local: installing PostgreSQL server binaries (apt-get install postgresql)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
    bindir=$(find_bindir)
  else
    echo "pg-local: PostgreSQL server binaries not found; install them (Debian/Ubuntu: apt-get install postgresql)" >&2
    exit 1
  fi
fi

run_as=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  run_as=(runuser -u postgres --)
fi

url="postgres://postgres@127.0.0.1:${port}/postgres"
mkdir -p "$(dirname "$dir")"
lock="${dir}.lock"
exec 9>"$lock"
flock 9

case "$cmd" in
  start)
    if [ ! -s "$dir/PG_VERSION" ]; then
      rm -rf "$dir"; mkdir -p "$dir"
      [ ${#run_as[@]} -gt 0 ] && chown postgres: "$dir"
      chmod 700 "$dir"
      "${run_as[@]}" "$bindir/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
        || { cat "$dir.initdb.log" >&2; exit 1; }
    fi
    if "${run_as[@]}" "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      echo "$url"; exit 0
    fi
    opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB -c max_wal_size=2GB -c timezone=UTC"
    if [ "$mode" = fast ]; then opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
    # fd 9 (the lock) must not leak into the server, or it would hold the lock for its lifetime.
    "${run_as[@]}" "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -o "$opts" -w -t 60 start >/dev/null 9>&- \
      || { tail -n 20 "$dir/server.log" >&2; exit 1; }
    echo "$url"
    ;;
  stop)
    if [ -s "$dir/PG_VERSION" ] && "${run_as[@]}" "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      "${run_as[@]}" "$bindir/pg_ctl" -D "$dir" -m fast -w -t 30 stop >/dev/null
    fi
    ;;
  url)
    echo "$url"
    ;;
  *)
    echo "pg-local: unknown command $cmd" >&2; exit 2
    ;;
esac
