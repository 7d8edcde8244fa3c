#!/usr/bin/env bash
# Soak (issue 10): one release `granary-server` on loopback; 50 clients pulling
# (every byte's SHA-256 checked) and 10 pushing for 60 s; the server's VmRSS is
# sampled every second. Bounded: the driver stops at the deadline and this
# script stops the server. Prints the driver's JSON line and the memory figures.
#   SOAK_SECONDS=60 SOAK_PULLERS=50 SOAK_PUSHERS=10 bench/soak/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${SOAK_SECONDS:-60}
pullers=${SOAK_PULLERS:-50}
pushers=${SOAK_PUSHERS:-10}

cargo build --release -p granary-server --bin granary-server --example soak
bin=target/release/granary-server
data=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT

# One user, one token per pusher (all push as the same user: the shared branch is raced).
for _ in $(seq 1 "$pushers"); do
  "$bin" user create soak --data-dir "$data" 2>/dev/null | tail -n 1
done > "$data/tokens"

# The verification worker is left out (--no-worker): on 2 cores its candle runs would
# measure the verifier, not the registry. Parts of 1 MiB, so downloads cross parts.
GRANARY_UPLOAD_PART_SIZE=$((1 << 20)) GRANARY_LOG=warn \
  "$bin" serve --data-dir "$data" --listen 127.0.0.1:0 --no-worker >"$data/stdout" 2>"$data/server.log" &
pid=$!
for _ in $(seq 1 100); do
  url=$(sed -n 's/^granary listening on //p' "$data/stdout" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start" >&2; cat "$data/server.log" >&2; exit 1; }

( while kill -0 "$pid" 2>/dev/null; do
    awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true
    sleep 1
  done ) >"$data/rss" &
sampler=$!

status=0
target/release/examples/soak "$url" "$data/tokens" "$secs" "$pullers" "$pushers" >"$data/result.json" || status=$?
kill "$sampler" 2>/dev/null || true
rss_start=$(head -n 1 "$data/rss")
rss_peak=$(sort -n "$data/rss" | tail -n 1)
rss_end=$(tail -n 1 "$data/rss")
cat "$data/result.json"
echo "server VmRSS: start $((rss_start / 1024)) MiB, peak $((rss_peak / 1024)) MiB, end $((rss_end / 1024)) MiB ($(wc -l <"$data/rss") samples)"
errors=$(grep -ciE ' (ERROR|panicked)' "$data/server.log" || true)
echo "server log: $errors error lines"
[ "$errors" = 0 ] || grep -iE ' (ERROR|panicked)' "$data/server.log" | head -n 5 >&2
exit "$status"
