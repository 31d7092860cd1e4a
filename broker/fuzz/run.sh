#!/usr/bin/env bash
# One long fuzzing run of one target, as recorded in README.md:
#
#   bash broker/fuzz/run.sh TARGET [RUNS]      # RUNS defaults to 10,000,000
#
# Single job, niced, 2 GiB memory limit, 5 s per input. What the run finds
# grows broker/fuzz/work/TARGET (git-ignored; later runs start from it);
# a crash, hang or OOM input lands in broker/fuzz/artifacts/TARGET/ and
# the run exits non-zero. The log is broker/fuzz/logs/TARGET.log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

target="${1:?usage: run.sh TARGET [RUNS]; targets: cargo fuzz list}"
runs="${2:-10000000}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi

mkdir -p "work/$target" "artifacts/$target" logs
start="$(date +%s)"
status=0
nice -n 10 cargo fuzz run -s none "$target" "work/$target" "corpus/$target" -- \
    -runs="$runs" -rss_limit_mb=2048 -timeout=5 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 \
    >"logs/$target.log" 2>&1 || status=$?
elapsed=$(($(date +%s) - start))
grep -E '^(stat::|Done)' "logs/$target.log" || true
echo "run: $target exit $status after ${elapsed}s"
exit "$status"
