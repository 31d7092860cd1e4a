#!/usr/bin/env bash
# Builds every plugin in plugins/ from source into a WebAssembly component:
#
#   bash plugins/build.sh            # build all -> target/plugins/<crate>.wasm
#   bash plugins/build.sh install    # install Debian's toolchain (apt) unless rustup
#                                    # has the wasm32 target, then build
#   bash plugins/build.sh test       # run the plugins' own tests natively
#
# Two toolchains work:
#   * rustup with the wasm32-unknown-unknown target (`rustup target add
#     wasm32-unknown-unknown`): its wasm-component-ld links components.
#   * Debian 12's rustc-web 1.96 (packages: rustc-web cargo-web rust-web-src
#     rust-web-llvm lld-22), for machines where rustup cannot download
#     targets: std is built from source (-Zbuild-std) and Debian's
#     wasm-component-ld links the component. First build ~1 min, then ~1 s
#     per plugin.
# Each crate is built on its own so that it enables exactly one hook feature
# of tern-plugin-sdk (a component carries one world). Set TERN_WASM_ROUTE to
# `rustup` or `debian` to choose; by default rustup is used when it has the
# target, else Debian's toolchain.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/target/plugins"
guest_target_dir="$root/target/wasm-guests"
TARGET=wasm32-unknown-unknown
DEBIAN_PKGS=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22)
CRATES=(iot-rewriter tenant-authorizer json-filter probe probe-authorizer wrong-version)

log() { echo "[plugins] $*" >&2; }

install_debian() {
  local missing=() p
  for p in "${DEBIAN_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    log "apt install ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

route() {
  if [ -n "${TERN_WASM_ROUTE:-}" ]; then echo "$TERN_WASM_ROUTE"; return; fi
  if command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    echo rustup
  elif [ -x /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld ] && [ -d /usr/lib/rustlib/src/rust/library ]; then
    echo debian
  else
    echo none
  fi
}

is_component() { # component binaries start with \0asm, version 0x0d, layer 1
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "0061736d0d000100" ]
}

build_all() {
  local r; r=$(route)
  local -a cargo_cmd envs
  case "$r" in
    rustup)
      local wcld; wcld="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/wasm-component-ld"
      [ -x "$wcld" ] || { log "no wasm-component-ld in the rustup toolchain ($wcld)"; exit 1; }
      envs=(CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$wcld")
      cargo_cmd=(cargo rustc --release --target "$TARGET" --crate-type cdylib)
      ;;
    debian)
      # Debian's rustc-web builds std from source (nightly flag allowed by
      # RUSTC_BOOTSTRAP); its wasm-component-ld links with lld-22's wasm-ld.
      envs=(RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Clink-arg=--wasm-ld-path=/usr/lib/llvm-22/bin/wasm-ld")
      cargo_cmd=(/usr/bin/cargo rustc --release --target "$TARGET" --crate-type cdylib -Zbuild-std=std,panic_abort)
      ;;
    *)
      log "no toolchain for $TARGET: run 'rustup target add $TARGET', or 'bash plugins/build.sh install' on Debian"
      exit 1
      ;;
  esac
  mkdir -p "$out"
  local crate t0=$SECONDS
  for crate in "${CRATES[@]}"; do
    (cd "$root/plugins" && env "${envs[@]}" CARGO_TARGET_DIR="$guest_target_dir" \
      "${cargo_cmd[@]}" -p "$crate" --quiet -j "${TERN_BUILD_JOBS:-2}")
    local wasm="$guest_target_dir/$TARGET/release/${crate//-/_}.wasm"
    [ -f "$wasm" ] || { log "$crate: no $wasm"; exit 1; }
    is_component "$wasm" || { log "$crate: $wasm is not a component"; exit 1; }
    cp "$wasm" "$out/$crate.wasm"
    log "$crate -> target/plugins/$crate.wasm ($(stat -c %s "$out/$crate.wasm") bytes)"
  done
  log "built ${#CRATES[@]} components with the $r toolchain in $((SECONDS - t0)) s"
}

case "${1:-build}" in
  build) build_all ;;
  install) [ "$(route)" = rustup ] || install_debian; build_all ;;
  test)
    # Natively, with the host toolchain: format, lints, unit tests.
    cd "$root/plugins"
    export CARGO_TARGET_DIR="$root/target/plugins-native"
    cargo fmt --all -- --check
    cargo clippy --quiet --all-targets -j "${TERN_BUILD_JOBS:-2}" -- -D warnings
    cargo test --quiet -j "${TERN_BUILD_JOBS:-2}"
    ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
