#!/usr/bin/env bash
# Server time of the web pages for a big model (issue 6): a model with 1,000
# files and 100 revisions, each page requested N times with curl; prints the
# min and median of curl's time_total (loopback, so close to server time).
# Usage: bench/web/run.sh [N]   (release build; results go in BENCHMARKS.md by hand)
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-50}"

cargo build -q --release -p granary-server --bin granary-server
BIN=target/release/granary-server
DATA="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT

TOKEN="$("$BIN" user create bench --data-dir "$DATA" 2>/dev/null | tail -n 1)"
"$BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 --no-worker > "$DATA/out" 2> "$DATA/log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$DATA/out" ] && break; sleep 0.1; done
URL="$(head -n 1 "$DATA/out" | sed 's/.*listening on //')"
echo "server: $URL"

start=$(date +%s)
read -r FIRST LAST < <(python3 bench/web/gen_model.py "$URL" "$TOKEN" bench/big 1000 100)
echo "generated bench/big (1,000 files, 100 revisions) in $(( $(date +%s) - start )) s"

measure() {
  local path="$1" label="${2:-$1}"
  curl -sf -o /dev/null "$URL$path" # warm
  for _ in $(seq 1 "$N"); do curl -s -o /dev/null -w '%{time_total}\n' "$URL$path"; done |
    sort -n | awk -v p="$label" '{ t[NR] = $1 } END {
      printf "%-44s min %6.1f ms   median %6.1f ms   max %6.1f ms\n", p, t[1] * 1000, t[int((NR + 1) / 2)] * 1000, t[NR] * 1000 }'
}
echo "$N requests each:"
measure /bench/big
measure /bench/big/tree/main
measure /bench/big/commits/main
measure /bench/big/benchmarks
measure "/bench/big/compare/$FIRST...$LAST" "/bench/big/compare/FIRST...LAST"
measure /models
measure /
