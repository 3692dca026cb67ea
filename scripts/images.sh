#!/usr/bin/env bash
# Builds the three service images (engine, data-service, dashboard) from their Dockerfiles with
# buildah (no Docker daemon here), prints their sizes against the 80 MB budget and checks each
# one: the runtime has no shell, package manager or compiler and runs as uid 10001; its service
# started from the image answers the image's own HEALTHCHECK command run from the image in a
# second container (both `buildah run --isolation chroot`, host network, a local PostgreSQL).
#
#   scripts/images.sh            bases, build, check (what `make images` runs)
#   scripts/images.sh bases      only recreate the base images
#   scripts/images.sh build      bases and build, no checks
#   scripts/images.sh check      check images already built
#
# The Dockerfiles start FROM `rust:1.95-bookworm` and `debian:bookworm-slim` (Docker Hub) and end
# FROM scratch. No registry of images is reachable here, so when the bases are missing they are
# recreated locally under those same names from Debian's own packages (mmdebstrap, the machine's
# apt mirror):
# - debian:bookworm-slim: a minbase bookworm root file system;
# - rust:1.95-bookworm: bookworm with what the official image's buildpack-deps base gives a Rust
#   build (gcc, make, pkg-config, libssl-dev, git, curl) and this machine's own rustup toolchain
#   (Rust 1.95, `rustup which rustc`) under /usr/local/rustup and /usr/local/cargo, with
#   RUSTUP_HOME, CARGO_HOME and PATH set as the official image sets them.
# Both then trust this machine's own certificate authorities (see trust_machine_cas). So the same
# Dockerfiles build unchanged with Docker or in GitHub Actions.
#
# Build: `buildah bud --layers --format docker` (the docker format keeps HEALTHCHECK, which OCI
# drops). The builder stage is identical in the three Dockerfiles and builds the three servers
# at once, so it is compiled once and reused by the second and third image; an unchanged tree
# rebuilds from the layer cache. Builds run under `nice -n 19` (IMAGES_NICE to change).
# The dashboard's wasm client is built in its Dockerfile's own stage (rustup target add
# wasm32-unknown-unknown inside the image, wasm-bindgen-cli, wasm-opt).
#
# Two sources of binaries (IMAGES_BINARIES), the same Dockerfiles either way (their BINARIES arg):
# - source (default, `make images`): compiled inside the image build, in release, from the bases;
# - prebuilt (`make test`, through scripts/infra-test.sh): the servers the test build already
#   compiled (`cargo test --workspace --no-run`, debug profile, stripped of all symbols here) and
#   the wasm client of scripts/build-wasm.sh, staged as the build context .local/images/prebuilt
#   (bin/<server>, pkg/); the Dockerfiles' runtime stages are built from them unchanged. This saves
#   the cold release compile (about 30 min on 2 cores) that would not fit CI's budget. Only
#   debian:bookworm-slim is needed then, not the rust base.
# Not root: the prebuilt context is staged as the calling user, then the script runs itself again
# under `sudo -E` (GitHub's runner has passwordless sudo); buildah needs root here.
#
# Environment: IMAGES_BINARIES (source|prebuilt); IMAGE_TAG (default dev); IMAGES_SERVICES (default "engine data-service dashboard",
# a subset for quick loops); IMAGES_PG_PORT (default 54351); IMAGES_PORT_BASE (default 18400: the
# services listen on +80, +81 and +30 during the check); IMAGES_NICE (default 19).
# Needs root (buildah's storage, mmdebstrap), apt-get and the network (crates.io, rustup's
# dist server, the Debian mirror). Logs: .local/images/logs/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tag=${IMAGE_TAG:-dev}
cache=$root/.local/images
mkdir -p "$cache"
say() { printf '[images] %s\n' "$*"; }
started=$(date +%s)
mode=${1:-all}
case $mode in all|bases|build|check) ;; *) echo "usage: $0 [all|bases|build|check]" >&2; exit 2 ;; esac
logs=$cache/logs
mkdir -p "$logs"
binaries=${IMAGES_BINARIES:-source}
case $binaries in source|prebuilt) ;; *) echo "IMAGES_BINARIES must be source or prebuilt, not '$binaries'" >&2; exit 2 ;; esac
context=$root
if [ "$binaries" = prebuilt ]; then
  context=$cache/prebuilt
  if [ "$mode" = all ] || [ "$mode" = build ] && [ -z "${IMAGES_PREBUILT_STAGED:-}" ]; then
    t=$(date +%s)
    say "prebuilt binaries: the test build's servers (cargo test --workspace --no-run) and scripts/build-wasm.sh's client"
    if ! cargo test --workspace --no-run --quiet >"$logs/prebuilt-cargo.log" 2>&1; then
      tail -n 30 "$logs/prebuilt-cargo.log" | sed 's/^/    /' >&2; echo "the test build failed" >&2; exit 1
    fi
    if ! bash scripts/build-wasm.sh >"$logs/prebuilt-wasm.log" 2>&1; then
      tail -n 30 "$logs/prebuilt-wasm.log" | sed 's/^/    /' >&2; echo "the wasm client build failed" >&2; exit 1
    fi
    rm -rf "$context"
    mkdir -p "$context/bin"
    # --strip-all, where the release build keeps its symbol table (--strip-debug): an unoptimised
    # build names every monomorphised generic it did not inline, 19 MB of the engine's 74 MB
    # after --strip-debug (measured 2026-12-07). A release build inlines most of them, so that
    # table says more about the profile than about the image; what is checked here is the code.
    for server in engine data-service dashboard; do
      strip --strip-all -o "$context/bin/$server" "target/debug/$server"
    done
    cp -r dashboard/pkg "$context/pkg"
    say "prebuilt context staged in $(($(date +%s) - t))s: $(du -sh "$context" | cut -f1) (.local/images/prebuilt)"
    export IMAGES_PREBUILT_STAGED=1
  fi
fi
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null && sudo -n true 2>/dev/null \
    || { echo "buildah needs root here: run $0 as root (or with passwordless sudo)" >&2; exit 1; }
  exec sudo -E env "PATH=$PATH" bash "$0" "$@"
fi
nice_level=${IMAGES_NICE:-19}
# IMAGES_SERVICES: a subset, for quick local loops (the dashboard's check needs the engine).
read -r -a services <<< "${IMAGES_SERVICES:-engine data-service dashboard}"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for pkg in buildah mmdebstrap; do installed "$pkg" || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "missing ${missing[*]} and not root to install it" >&2; exit 1; }
  say "installing ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The mirror the machine's own apt uses (deb822 or one-line sources).
mirror=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
[ -n "$mirror" ] || mirror=$(grep -hoE '^deb +\S+' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -1)
mirror=${mirror:-http://deb.debian.org/debian}

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# A base image from a root file system tarball, with the environment given as K=V arguments.
import_base() {
  local name=$1 tar=$2; shift 2
  local c
  c=$(buildah from --pull-never scratch)
  buildah add --quiet "$c" "$tar" / >/dev/null
  local envs=()
  for kv in "$@"; do envs+=(--env "$kv"); done
  buildah config "${envs[@]}" --cmd /bin/bash "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

slim=docker.io/library/debian:bookworm-slim
if ! have_image "$slim"; then
  t=$(date +%s)
  say "recreating $slim from Debian packages ($mirror)"
  mmdebstrap --quiet --variant=minbase --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$cache/debian-bookworm-slim.tar" "$mirror"
  import_base "$slim" "$cache/debian-bookworm-slim.tar" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  rm -f "$cache/debian-bookworm-slim.tar"
  say "$slim ready in $(($(date +%s) - t))s"
fi

rust=docker.io/library/rust:1.95-bookworm
if [ "$binaries" = source ] && ! have_image "$rust"; then
  t=$(date +%s)
  toolchain=$(dirname "$(dirname "$(rustup which rustc)")")
  version=$("$toolchain/bin/rustc" --version | awk '{print $2}')
  case $version in 1.95.*) ;; *) echo "the host toolchain is Rust $version, not 1.95: cannot stand in for rust:1.95-bookworm" >&2; exit 1 ;; esac
  rustup_bin=$(command -v rustup)
  say "recreating $rust from Debian packages and the host's Rust $version ($toolchain)"
  # The toolchain goes in as rustup's "stable" toolchain, its documentation left out (800 MB).
  mmdebstrap --quiet --variant=minbase \
    --include=ca-certificates,build-essential,pkg-config,libssl-dev,git,curl \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --customize-hook="mkdir -p \"\$1/usr/local/rustup/toolchains\" \"\$1/usr/local/cargo/bin\"" \
    --customize-hook="tar -C '$toolchain/..' --exclude=share/doc -cf - '$(basename "$toolchain")' | tar -C \"\$1/usr/local/rustup/toolchains\" -xf -" \
    --customize-hook="printf 'version = \"12\"\\ndefault_toolchain = \"$(basename "$toolchain")\"\\nprofile = \"minimal\"\\n' > \"\$1/usr/local/rustup/settings.toml\"" \
    --customize-hook="for b in rustup cargo rustc rustdoc cargo-clippy clippy-driver rustfmt cargo-fmt; do cp '$rustup_bin' \"\$1/usr/local/cargo/bin/\$b\"; done" \
    bookworm "$cache/rust-1.95-bookworm.tar" "$mirror"
  import_base "$rust" "$cache/rust-1.95-bookworm.tar" \
    RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo RUST_VERSION="$version" \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  rm -f "$cache/rust-1.95-bookworm.tar"
  say "$rust ready in $(($(date +%s) - t))s"
fi

# This machine's own certificate authorities (an egress proxy re-signs TLS here): the ones in
# its trust store that Debian's ca-certificates does not ship. The recreated bases trust them
# (/usr/local/share/ca-certificates, as a local CA is added to Debian), so cargo, rustup and apt
# inside the build reach the network here. The runtime's CA bundle is regenerated from them by
# the Dockerfiles' `apt-get install ca-certificates`, so images built here trust them too; built
# elsewhere from Docker Hub's bases, they do not. None of this changes the Dockerfiles.
host_bundle=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
machine_cas() { # $1: a mounted Debian root with ca-certificates; prints the extra certificates
  python3 - "$1" "$host_bundle" <<'PY'
import glob, re, sys
pem = re.compile(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', re.S)
stock = set()
for f in glob.glob(sys.argv[1] + '/usr/share/ca-certificates/**/*.crt', recursive=True):
    stock.update(pem.findall(open(f).read()))
try:
    host = pem.findall(open(sys.argv[2]).read())
except OSError:
    host = []
for c in host:
    if c not in stock:
        print(c)
PY
}
trust_machine_cas() { # $1: base image name; $2: the extra certificates file
  local want have c
  want=$(sha256sum < "$2" | cut -c1-16)
  have=$(buildah inspect --type image -f '{{index .ImageAnnotations "halyard.machine-cas"}}{{index .OCIv1.Config.Labels "halyard.machine-cas"}}' "$1" 2>/dev/null || true)
  [ "$have" = "$want" ] && return 0
  say "trusting this machine's $(grep -c 'BEGIN CERT' "$2") extra certificate authorities in $1"
  c=$(buildah from --pull-never "$1")
  buildah run --isolation chroot "$c" -- rm -f /usr/local/share/ca-certificates/halyard-machine.crt >/dev/null
  if [ -s "$2" ]; then
    buildah copy --quiet "$c" "$2" /usr/local/share/ca-certificates/halyard-machine.crt >/dev/null
  fi
  # Where ca-certificates is installed (the rust base), its bundle is regenerated now; on the
  # slim base the Dockerfile's `apt-get install ca-certificates` picks the file up.
  if buildah run --isolation chroot "$c" -- test -x /usr/sbin/update-ca-certificates 2>/dev/null; then
    buildah run --isolation chroot "$c" -- update-ca-certificates --fresh >/dev/null
  fi
  buildah config --label "halyard.machine-cas=$want" "$c"
  buildah commit --quiet --rm "$c" "$1" >/dev/null
}

# The machine's extra authorities, read against the stock certificates of the rust base (prebuilt:
# of this host, a bookworm too: nothing is compiled in an image then).
if [ "$binaries" = source ]; then
  probe=$(buildah from --pull-never "$rust")
  machine_cas "$(buildah mount "$probe")" > "$cache/machine-cas.pem"
  buildah umount "$probe" >/dev/null
  buildah rm "$probe" >/dev/null
  trust_machine_cas "$rust" "$cache/machine-cas.pem"
else
  machine_cas / > "$cache/machine-cas.pem"
fi
trust_machine_cas "$slim" "$cache/machine-cas.pem"

[ "$mode" = bases ] && exit 0

image() { echo "localhost/halyard/$1:$tag"; }

################################################################################
# Build
################################################################################
if [ "$mode" != check ]; then
  before_build=$(buildah containers -q | tr '\n' ' ')
  for svc in "${services[@]}"; do
    t=$(date +%s)
    say "building $(image "$svc") from $svc/Dockerfile, $binaries binaries (log: .local/images/logs/build-$svc.log)"
    if ! nice -n "$nice_level" buildah bud --isolation chroot --layers --format docker \
        --build-arg "BINARIES=$binaries" -f "$root/$svc/Dockerfile" -t "$(image "$svc")" "$context" \
        >"$logs/build-$svc.log" 2>&1; then
      tail -n 40 "$logs/build-$svc.log" | sed 's/^/    /' >&2
      echo "building $svc failed" >&2
      exit 1
    fi
    say "$svc built in $(($(date +%s) - t))s"
  done
  # buildah 1.28 leaves the working container of a stage without instructions (the Dockerfiles'
  # `FROM ${BINARIES} AS binaries`) behind after the build: remove what the builds left.
  for c in $(buildah containers -q); do
    [[ " $before_build " == *" $c "* ]] || buildah rm "$c" >/dev/null 2>&1 || true
  done
fi
[ "$mode" = build ] && { say "built in $(($(date +%s) - started))s"; exit 0; }

################################################################################
# Check
################################################################################
budget=$((80 * 1000 * 1000))
containers=()
service_pids=()
pg_dir=$cache/pg
cleanup() {
  local p
  for p in "${service_pids[@]}"; do stop_tree "$p"; done
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  bash scripts/pg-local.sh stop "$pg_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# A process and its descendants, by id (the buildah run started here and what it started).
stop_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do stop_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
# The descendant of process $1 running the binary $2.
served_by() {
  local child found
  for child in $(pgrep -P "$1" 2>/dev/null); do
    if [ "$(cat "/proc/$child/comm" 2>/dev/null)" = "$2" ]; then echo "$child"; return; fi
    found=$(served_by "$child" "$2")
    [ -n "$found" ] && { echo "$found"; return; }
  done
}
# A working container of image $1, in $C (removed on exit).
new_container() { C=$(buildah from --pull-never "$1"); containers+=("$C"); }
cfg() { buildah inspect --type image -f "$2" "$1"; }

failures=0
bad() { say "FAIL $*"; failures=$((failures + 1)); }

# Sizes and contents.
declare -A size
for svc in "${services[@]}"; do
  img=$(image "$svc")
  have_image "$img" || { echo "$img is not built: run $0 build" >&2; exit 1; }
  new_container "$img"
  c=$C
  m=$(buildah mount "$c")
  size[$svc]=$(du -sb "$m" | cut -f1)
  found=()
  for f in bin/sh bin/bash bin/dash usr/bin/sh usr/bin/bash usr/bin/apt-get usr/bin/dpkg usr/bin/cc \
      usr/bin/gcc usr/bin/ld usr/bin/perl usr/bin/python3 usr/local/cargo/bin/cargo; do
    [ -e "$m/$f" ] || [ -L "$m/$f" ] && found+=("/$f")
  done
  files=$(find "$m" -xdev \( -type f -o -type l \) | wc -l)
  buildah umount "$c" >/dev/null
  user=$(cfg "$img" '{{.Docker.Config.User}}')
  hc=$(cfg "$img" '{{with .Docker.Config.Healthcheck}}{{.Test}}{{end}}')
  printf '[images] %-13s %6.1f MB (%d bytes, %d files), user %s, healthcheck %s\n' "$svc" \
    "$(awk -v b="${size[$svc]}" 'BEGIN { print b / 1000000 }')" "${size[$svc]}" "$files" "$user" "$hc"
  [ "${size[$svc]}" -le "$budget" ] || bad "$svc: ${size[$svc]} bytes is over the 80 MB budget"
  [ ${#found[@]} -eq 0 ] || bad "$svc: the runtime image has ${found[*]}"
  [ "$user" = 10001:10001 ] || bad "$svc: runs as '$user', not 10001:10001"
  [ -n "$hc" ] || bad "$svc: no HEALTHCHECK in the image config"
done

# The services from their images against a local PostgreSQL.
pg_port=${IMAGES_PG_PORT:-54351}
base=${IMAGES_PORT_BASE:-18400}
declare -A port=([engine]=$((base + 80)) [data-service]=$((base + 81)) [dashboard]=$((base + 30)))
url=$(bash scripts/pg-local.sh start "$pg_dir" "$pg_port" fast | tail -n 1)
say "PostgreSQL for the check: ${url%%@*}@… (.local/images/pg)"
declare -A env_of=(
  [engine]="DATA_SERVICE_URL=http://127.0.0.1:${port[data-service]}"
  [data-service]="FEEDS=synthetic"
  [dashboard]="ENGINE_URL=http://127.0.0.1:${port[engine]} DATA_SERVICE_URL=http://127.0.0.1:${port[data-service]} ENGINE_API_TOKEN=hly_images_check_token_not_secret"
)
envs() { # $1 service: the --env arguments of its container
  local kv
  printf -- '--env\0LISTEN_ADDR=127.0.0.1:%s\0--env\0DATABASE_URL=%s\0--env\0RUST_LOG=info\0' "${port[$1]}" "$url"
  for kv in ${env_of[$1]}; do printf -- '--env\0%s\0' "$kv"; done
}

# The one-shot migration task, from the engine's image, as before a deploy.
new_container "$(image engine)"
c=$C
if ! buildah run --isolation chroot --env "DATABASE_URL=$url" "$c" -- /usr/local/bin/engine migrate \
    >"$logs/migrate.log" 2>&1; then
  tail -n 20 "$logs/migrate.log" | sed 's/^/    /'
  bad "engine migrate from the image"
fi

# The image's HEALTHCHECK test (["CMD", argv...]) run in a second container of the image.
declare -A hc_container
healthcheck() { # $1 service; exit status of the check
  local img
  img=$(image "$1")
  mapfile -t argv < <(cfg "$img" '{{range $i, $a := .Docker.Config.Healthcheck.Test}}{{if $i}}{{$a}}{{"\n"}}{{end}}{{end}}')
  if [ -z "${hc_container[$1]:-}" ]; then new_container "$img"; hc_container[$1]=$C; fi
  buildah run --isolation chroot --env "LISTEN_ADDR=127.0.0.1:${port[$1]}" "${hc_container[$1]}" -- "${argv[@]}" \
    >>"$logs/healthcheck-$1.log" 2>&1
}

# Started in dependency order: the data-service, the engine (reads its market stream), the dashboard.
for svc in data-service engine dashboard; do
  [[ " ${services[*]} " == *" $svc "* ]] || continue
  : >"$logs/healthcheck-$svc.log"
  # Before the service runs, the check must fail (it probes something real).
  if healthcheck "$svc"; then bad "$svc: the healthcheck passed with nothing listening"; fi
  img=$(image "$svc")
  mapfile -t cmd < <(cfg "$img" '{{range .Docker.Config.Entrypoint}}{{.}}{{"\n"}}{{end}}{{range .Docker.Config.Cmd}}{{.}}{{"\n"}}{{end}}')
  new_container "$img"
  c=$C
  mapfile -d '' -t env_args < <(envs "$svc")
  buildah run --isolation chroot "${env_args[@]}" "$c" -- "${cmd[@]}" >"$logs/serve-$svc.log" 2>&1 &
  service_pids+=($!)
  t=$(date +%s)
  ok=0
  for _ in $(seq 1 60); do
    if healthcheck "$svc"; then ok=1; break; fi
    kill -0 "${service_pids[-1]}" 2>/dev/null || break
    sleep 1
  done
  if [ $ok -ne 1 ]; then
    tail -n 20 "$logs/serve-$svc.log" | sed 's/^/    /'
    tail -n 5 "$logs/healthcheck-$svc.log" | sed 's/^/    /'
    bad "$svc: \`${cmd[*]}\` from the image did not become healthy within 60 s"
    continue
  fi
  # The process serving is the image's binary, as uid 10001.
  pid=$(served_by "${service_pids[-1]}" "$svc")
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo "?")
  say "$svc: \`${cmd[*]}\` healthy after $(($(date +%s) - t))s (pid $pid, uid $uid); its healthcheck \`${argv[*]}\` exits 0"
  [ "$uid" = 10001 ] || bad "$svc: the service runs as uid $uid, not 10001"
done

# The dashboard serves the wasm client built in its image.
if [[ " ${services[*]} " != *" dashboard "* ]]; then
  :
elif curl -fsS -o /dev/null "http://127.0.0.1:${port[dashboard]}/pkg/dashboard_bg.wasm"; then
  say "dashboard: /pkg/dashboard_bg.wasm served from the image's /app/pkg"
else
  bad "dashboard: /pkg/dashboard_bg.wasm not served"
fi

if [ $failures -ne 0 ]; then
  say "$failures check(s) failed (logs: .local/images/logs/)"
  exit 1
fi
say "${#services[@]} image(s) within 80 MB, no shell, uid 10001, healthchecks pass; $(($(date +%s) - started))s"
