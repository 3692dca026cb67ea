#!/usr/bin/env bash
# Builds the dashboard's wasm client (crate `dashboard`, feature `hydrate`) into dashboard/pkg/
# (or DASHBOARD_PKG_DIR), where the dashboard serves it at /pkg/, and prints its gzip size.
#
# Two routes to a wasm32 standard library, chosen by what the machine has:
# - rustup with the wasm32-unknown-unknown target installed (`rustup target add
#   wasm32-unknown-unknown`): the normal toolchain builds it;
# - otherwise Debian's Rust for the web (`rustc-web cargo-web rust-web-src rust-web-llvm lld-22
#   binaryen`, installed here with apt-get when missing and running as root): /usr/bin/rustc and
#   /usr/bin/cargo build the standard library from source (-Zbuild-std).
# Either way the build has its own target dir (target/wasm), so the server's builds are untouched.
# wasm-bindgen-cli is installed into .local/tools at exactly the wasm-bindgen version in
# Cargo.lock (once; about 5-7 minutes). Measured: docs/dashboard.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${DASHBOARD_PKG_DIR:-$root/dashboard/pkg}
tools=$root/.local/tools
target_dir=$root/target/wasm
say() { printf '[wasm] %s\n' "$*"; }
started=$(date +%s)

# shellcheck source=lib/wasm-toolchain.sh
source "$root/scripts/lib/wasm-toolchain.sh"

# wasm-bindgen-cli at exactly the version of the wasm-bindgen crate the client links.
bindgen_version=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$bindgen_version" ] || { echo "no wasm-bindgen in Cargo.lock" >&2; exit 1; }
wasm_bindgen=$tools/bin/wasm-bindgen
if [ "$("$wasm_bindgen" --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version into .local/tools (takes minutes, once)"
  install_cargo=cargo
  command -v cargo >/dev/null || install_cargo=/usr/bin/cargo
  # Not --locked: its own lock file does not build with current dependencies (tried).
  "$install_cargo" install -q wasm-bindgen-cli --version "$bindgen_version" --root "$tools"
fi

say "building the client (feature hydrate, profile wasm-release, target dir target/wasm)"
build_started=$(date +%s)
env "${toolchain_env[@]}" CARGO_TARGET_DIR="$target_dir" "$cargo_bin" rustc -q -p dashboard --lib \
  --crate-type cdylib --target wasm32-unknown-unknown "${build_std[@]}" \
  --no-default-features --features hydrate --profile wasm-release
build_seconds=$(($(date +%s) - build_started))

staging=$(mktemp -d "$root/target/wasm/pkg.XXXXXX")
trap 'rm -rf "$staging"' EXIT
"$wasm_bindgen" --target web --no-typescript --remove-name-section --out-dir "$staging" --out-name dashboard \
  "$target_dir/wasm32-unknown-unknown/wasm-release/dashboard.wasm"
# wasm-opt shrinks it further. The client is built without reference types
# (.cargo/config.toml), which is what keeps Debian's binaryen 108 from breaking wasm-bindgen's
# tables; if wasm-opt is missing or fails anyway, the unoptimized module is kept.
optimizer="none (wasm-opt not found)"
if [ -n "${skip_wasm_opt:-}" ]; then
  optimizer="none ($skip_wasm_opt)"
elif command -v wasm-opt >/dev/null; then
  if wasm-opt -Oz "$staging/dashboard_bg.wasm" -o "$staging/dashboard_bg.opt.wasm" 2>"$staging/wasm-opt.log"; then
    mv "$staging/dashboard_bg.opt.wasm" "$staging/dashboard_bg.wasm"
    optimizer="$(wasm-opt --version) -Oz"
  else
    optimizer="none (wasm-opt failed: $(head -c 300 "$staging/wasm-opt.log"))"
  fi
fi
rm -f "$staging/wasm-opt.log"
gzip -9 -k "$staging/dashboard_bg.wasm" "$staging/dashboard.js"

mkdir -p "$out"
for f in dashboard.js dashboard.js.gz dashboard_bg.wasm dashboard_bg.wasm.gz; do
  mv -f "$staging/$f" "$out/$f"
done
raw=$(stat -c %s "$out/dashboard_bg.wasm")
gz=$(stat -c %s "$out/dashboard_bg.wasm.gz")
say "optimizer: $optimizer"
say "wrote $out: dashboard_bg.wasm $((raw / 1024)) KiB, gzip $((gz / 1024)) KiB ($gz bytes);" \
  "dashboard.js gzip $(($(stat -c %s "$out/dashboard.js.gz") / 1024)) KiB"
say "cargo build ${build_seconds}s, whole script $(($(date +%s) - started))s"
if [ "$gz" -ge $((500 * 1024)) ]; then
  echo "the compressed wasm is $gz bytes, over the 500 KB budget" >&2
  exit 1
fi
