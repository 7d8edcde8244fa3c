#!/usr/bin/env bash
# Push and pull throughput of a 1 GiB model (4 safetensors shards of random
# finite f32) over loopback, beside `openssl dgst -sha256` over the same files.
# Each measure runs 3 times; min and median go into BENCHMARKS.md under
# "Push and pull (issue 3)".
#
#   bench/transfer.sh            # from the repository root or anywhere
#   SIZE=268435456 bench/transfer.sh   # a smaller model (bytes)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SIZE="${SIZE:-1073741824}"
RUNS="${RUNS:-3}"
cd "$ROOT"

echo "building release binaries (this takes a few minutes)..." >&2
cargo build --release -p granary-cli -p granary-server >&2
cargo build --release -p granary-cli --example gen_model >&2
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
G="$TARGET/granary"
S="$TARGET/granary-server"
GEN="$TARGET/examples/gen_model"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/granary-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "generating the model..." >&2
"$GEN" "$WORK/model" "$SIZE" 4
BYTES=$(cat "$WORK"/model/* | wc -c)
SHARDS=("$WORK"/model/*.safetensors)

now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{$BYTES / ($2 - $1) / 1e6:.0f}')" ; }

# start_server DATA_DIR: starts a server, sets URL, TOKEN and SERVER_PID.
start_server() {
  local data="$1"
  TOKEN=$("$S" user create bench --data-dir "$data" | tail -1)
  "$S" serve --data-dir "$data" --listen 127.0.0.1:0 >"$data/stdout" 2>"$data/stderr" &
  SERVER_PID=$!
  for _ in $(seq 200); do
    URL=$(head -1 "$data/stdout" 2>/dev/null | sed -n 's/^granary listening on //p')
    [ -n "$URL" ] && return 0
    sleep 0.05
  done
  echo "the server did not start: $(cat "$data/stderr")" >&2
  exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

declare -a SHA PUSH PULL
LOAD_START="$(uptime | sed 's/.*load average: //')"
cat "$WORK"/model/* >/dev/null # warm the page cache for everyone alike
for i in $(seq "$RUNS"); do
  t0=$(now); openssl dgst -sha256 "${SHARDS[@]}" "$WORK/model/README.md" "$WORK/model/config.json" >/dev/null; t1=$(now)
  SHA+=("$(rate "$t0" "$t1")")
done

for i in $(seq "$RUNS"); do
  # A fresh server and an empty hash cache each time: every byte hashed and sent.
  rm -rf "$WORK/data" "$WORK/cache" && mkdir -p "$WORK/data"
  start_server "$WORK/data"
  t0=$(now)
  GRANARY_CACHE="$WORK/cache" GRANARY_CONFIG_DIR="$WORK/config" \
    "$G" --endpoint "$URL" --token "$TOKEN" -q push "$WORK/model" bench/model >/dev/null
  t1=$(now)
  PUSH+=("$(rate "$t0" "$t1")")
  [ "$i" -lt "$RUNS" ] && stop_server
done

for i in $(seq "$RUNS"); do
  # Cold cache: nothing local, every byte downloaded and verified.
  rm -rf "$WORK/cache" "$WORK/out"
  t0=$(now)
  GRANARY_CACHE="$WORK/cache" GRANARY_CONFIG_DIR="$WORK/config" \
    "$G" --endpoint "$URL" -q pull bench/model -o "$WORK/out" >/dev/null
  t1=$(now)
  PULL+=("$(rate "$t0" "$t1")")
done
cmp "$WORK/model/${SHARDS[0]##*/}" "$WORK/out/${SHARDS[0]##*/}"
stop_server

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%d %d", a[1], a[int((NR+1)/2)]}'; }
read -r SHA_MIN SHA_MED <<<"$(stats "${SHA[@]}")"
read -r PUSH_MIN PUSH_MED <<<"$(stats "${PUSH[@]}")"
read -r PULL_MIN PULL_MED <<<"$(stats "${PULL[@]}")"
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

SECTION="$WORK/section.md"
cat >"$SECTION" <<MD
## Push and pull (issue 3)

Measured by \`bench/transfer.sh\` on $(date -u +%Y-%m-%d) ($(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')):
a $(python3 -c "print(f'{$BYTES / 2**30:.2f}')") GiB model (4 safetensors shards of random f32, README.md, config.json),
release builds, server and client on one machine over loopback, SQLite and the local file store,
files in the page cache. Push: empty server and empty hash cache each run (hash, upload in parts,
server-side verification, commit). Pull: cold client cache (download in ranges, verify, link).
$RUNS runs each; MB/s = 10^6 bytes per second of wall time.

| measure | min MB/s | median MB/s | median ÷ openssl | target |
| --- | ---: | ---: | ---: | --- |
| \`openssl dgst -sha256\` | $SHA_MIN | $SHA_MED | 1.00 | |
| \`granary push\` | $PUSH_MIN | $PUSH_MED | $(ratio "$PUSH_MED" "$SHA_MED") | ≥ 0.5 |
| \`granary pull\` | $PULL_MIN | $PULL_MED | $(ratio "$PULL_MED" "$SHA_MED") | ≥ 0.6 |

Runs: openssl ${SHA[*]}; push ${PUSH[*]}; pull ${PULL[*]}.
Load average (\`uptime\`, 1/5/15 min): $LOAD_START at the start, $(uptime | sed 's/.*load average: //') at the end.
MD

replace_section "Push and pull (issue 3)" "$SECTION"
cat "$SECTION"
