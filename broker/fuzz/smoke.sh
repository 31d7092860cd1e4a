#!/usr/bin/env bash
# CI smoke run of every fuzz target: installs cargo-fuzz if it is missing,
# builds the targets (libFuzzer, stable toolchain, no sanitizer), replays
# the committed seeds and fuzzes each target for a few seconds. Exits
# non-zero if any target crashes, hangs (-timeout) or runs out of memory
# (-rss_limit_mb); the input that did it is left in
# broker/fuzz/artifacts/<target>/.
#
#   bash broker/fuzz/smoke.sh                  # every target
#   bash broker/fuzz/smoke.sh ws_frames        # some targets
#   FUZZ_SMOKE_SECONDS=60 bash broker/fuzz/smoke.sh
#
# See broker/fuzz/README.md for long runs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

seconds="${FUZZ_SMOKE_SECONDS:-15}"
# The version this was set up and measured with; a newer one works too.
cargo_fuzz_version="0.13.2"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "smoke: installing cargo-fuzz $cargo_fuzz_version"
    cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# One build for all targets. `-s none`: AddressSanitizer needs a nightly
# compiler, and the broker's unsafe-free parsers gain little from it.
nice -n 10 cargo fuzz build -s none

mkdir -p logs
failed=()
for target in "${targets[@]}"; do
    mkdir -p "work/$target" "artifacts/$target"
    log="logs/smoke-$target.log"
    # The first directory collects what this run finds (git-ignored); the
    # committed seeds are only read.
    if nice -n 10 cargo fuzz run -s none "$target" "work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=5 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"$log" 2>&1; then
        runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
        rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
        echo "smoke: $target ok (${runs:-?} runs, ${rate:-?} exec/s)"
    else
        echo "smoke: $target FAILED; the end of $here/$log:"
        tail -n 40 "$log"
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "smoke: ${#failed[@]} target(s) failed: ${failed[*]}"
    exit 1
fi
echo "smoke: ${#targets[@]} targets passed"
