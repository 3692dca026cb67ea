# Sourced by the scripts that build for wasm32-unknown-unknown (build-wasm.sh, build-modules.sh):
# picks the toolchain and sets cargo_bin, build_std (array), toolchain_env (array) and, when
# wasm-opt must not run, skip_wasm_opt. Expects a `say` function.
#
# Two routes to a wasm32 standard library, chosen by what the machine has:
# - rustup with the wasm32-unknown-unknown target installed: the normal toolchain builds it;
# - otherwise Debian's Rust for the web (rustc-web cargo-web rust-web-src rust-web-llvm lld-22
#   binaryen, installed with apt-get when missing and running as root): /usr/bin/rustc and
#   /usr/bin/cargo build the standard library from source (-Zbuild-std).
need_apt() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "missing $* and cannot install it (needs root and apt-get): install it, or \`rustup target add" \
      "wasm32-unknown-unknown\`, and rerun" >&2
    exit 1
  fi
  say "installing $*"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

skip_wasm_opt=""
# Which standard library for wasm32.
if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "toolchain: rustup's, with its wasm32-unknown-unknown target"
  cargo_bin=cargo
  build_std=()
  # rustup's prebuilt wasm32 standard library has reference types, so the client must too: the
  # `-reference-types` in .cargo/config.toml (for Debian's std rebuilt from source) is overridden,
  # or wasm-bindgen fails ("failed to find the `__wbindgen_externref_table_alloc` function").
  toolchain_env=(CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS=-Ctarget-feature=+reference-types)
  # And no wasm-opt: Debian bookworm's binaryen 108 breaks wasm-bindgen's externref table.
  skip_wasm_opt="rustup's std has reference types, which binaryen 108 mishandles"
else
  missing=()
  for pkg in rustc-web cargo-web rust-web-src rust-web-llvm lld-22 binaryen; do
    installed "$pkg" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] || need_apt "${missing[@]}"
  say "toolchain: $(/usr/bin/rustc --version) from Debian, building std for wasm32 from source"
  cargo_bin=/usr/bin/cargo
  build_std=(-Zbuild-std=std,panic_abort)
  # rustup's proxies come first on PATH: name Debian's rustc explicitly.
  toolchain_env=(RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1)
fi

