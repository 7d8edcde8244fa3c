#!/usr/bin/env bash
# Long fuzz runs of the stable fuzz targets in server/tests/reliability_fuzz.rs:
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET_FILTER]
# Targets run as parallel test threads (release build); each prints its exec count.
# A failing input is written to fuzz/crashes/<target>/: fix the bug, then move the
# file to fuzz/regressions/<target>/ so every `cargo test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
filter=${2:-fuzz_}
GRANARY_FUZZ_SECS=$secs cargo test --release -p granary-server --test reliability_fuzz -- --nocapture --test-threads 8 "$filter" 2>&1 \
  | grep -E "^fuzz |panic|property|slow|test result|FAILED|failures"
