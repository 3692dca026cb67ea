#!/usr/bin/env bash
# Builds the example strategy modules (the crates under modules/) for wasm32-unknown-unknown and
# copies them to target/wasm-modules/<crate>.wasm (or HALYARD_MODULES_DIR), where the tests, the
# benchmark and `make demo` take them from. Uses the same toolchain as the dashboard's client
# (scripts/lib/wasm-toolchain.sh) and its target dir, target/wasm, so the standard library built
# from source is shared. Safe to run from several processes at once (a lock serialises them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${HALYARD_MODULES_DIR:-$root/target/wasm-modules}
target_dir=$root/target/wasm
say() { printf '[modules] %s\n' "$*" >&2; }
started=$(date +%s)

mkdir -p "$out" "$target_dir"
exec 9>"$target_dir/modules.lock"
flock 9

# shellcheck source=lib/wasm-toolchain.sh
source "$root/scripts/lib/wasm-toolchain.sh"

crates=()
for manifest in modules/*/Cargo.toml; do
  crates+=("$(awk -F'"' '/^name = / { print $2; exit }' "$manifest")")
done
packages=()
for crate in "${crates[@]}"; do packages+=(-p "$crate"); done

say "building ${crates[*]} (profile wasm-module, target dir target/wasm)"
env "${toolchain_env[@]}" CARGO_TARGET_DIR="$target_dir" "$cargo_bin" build -q "${packages[@]}" --lib \
  --target wasm32-unknown-unknown "${build_std[@]}" --profile wasm-module

for crate in "${crates[@]}"; do
  file=${crate//-/_}.wasm
  cp "$target_dir/wasm32-unknown-unknown/wasm-module/$file" "$out/$crate.wasm.tmp"
  mv -f "$out/$crate.wasm.tmp" "$out/$crate.wasm"
  say "wrote $out/$crate.wasm ($(($(stat -c %s "$out/$crate.wasm") / 1024)) KiB)"
done
say "done in $(($(date +%s) - started))s"
