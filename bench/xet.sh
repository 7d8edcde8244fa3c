#!/usr/bin/env bash
# Large files through the stock Hugging Face client, over Xet and over Git LFS, beside
# `granary push`/`pull` in the same run (issue 16): a 2 GiB model (4 safetensors shards of
# random finite f32), release builds, one server per path, loopback, SQLite and local files.
# Each measure runs RUNS times (default 1; medians when more); the section "Xet (issue 16)"
# of BENCHMARKS.md is replaced with the figures.
#
#   bench/xet.sh                       # needs tests/hf/setup.sh's venv for huggingface_hub 2.4.0
#   SIZE=536870912 RUNS=3 bench/xet.sh # a smaller model, three runs
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SIZE="${SIZE:-2147483648}"
RUNS="${RUNS:-1}"
VENV="${VENV:-/tmp/granary-hf-venv-2.4.0}"
cd "$ROOT"
[ -x "$VENV/bin/hf" ] || { echo "missing $VENV/bin/hf: run tests/hf/setup.sh" >&2; exit 2; }

PROFILE="${PROFILE:-release}" # PROFILE=dev checks the script quickly; figures need release
echo "building $PROFILE binaries (this takes a few minutes)..." >&2
cargo build --profile "$PROFILE" -p granary-cli -p granary-server >&2
cargo build --profile "$PROFILE" -p granary-cli --example gen_model >&2
DIR="$PROFILE"; [ "$PROFILE" = dev ] && DIR=debug
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/$DIR"
G="$TARGET/granary"
S="$TARGET/granary-server"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/granary-xet-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "generating the model..." >&2
"$TARGET/examples/gen_model" "$WORK/model" "$SIZE" 4
BYTES=$(cat "$WORK"/model/* | wc -c)
cat "$WORK"/model/* >/dev/null # warm the page cache for everyone alike

now() { date +%s.%N; }
start_server() {
  local data="$1"
  mkdir -p "$data"
  TOKEN=$("$S" user create bench --data-dir "$data" | tail -1)
  # No verification worker: the transfer is measured, not the verifier.
  "$S" serve --no-worker --data-dir "$data" --listen 127.0.0.1:0 >"$data/stdout" 2>"$data/stderr" &
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
hf() {
  HF_ENDPOINT="$URL" HF_TOKEN="$TOKEN" HF_HOME="$WORK/hf-home" HF_HUB_DISABLE_TELEMETRY=1 \
    HF_HUB_DISABLE_PROGRESS_BARS=1 HF_XET_TELEMETRY_ENABLED=false "$VENV/bin/hf" "$@"
}
hf_timed() { # hf, its CPU seconds (user, system) written to the file $1
  local out="$1"; shift
  HF_ENDPOINT="$URL" HF_TOKEN="$TOKEN" HF_HOME="$WORK/hf-home" HF_HUB_DISABLE_TELEMETRY=1 \
    HF_HUB_DISABLE_PROGRESS_BARS=1 HF_XET_TELEMETRY_ENABLED=false \
    /usr/bin/time -f "%U %S" -o "$out" "$VENV/bin/hf" "$@"
}
same() { for f in "$WORK"/model/*.safetensors; do cmp "$f" "$1/${f##*/}"; done; }

declare -a NPUSH NPULL XUP XDOWN XCPU LUP LDOWN
for i in $(seq "$RUNS"); do
  echo "run $i: granary push/pull..." >&2
  rm -rf "$WORK/data" "$WORK/cache" "$WORK/out" "$WORK/hf-home"
  start_server "$WORK/data"
  t0=$(now)
  GRANARY_CACHE="$WORK/cache" GRANARY_CONFIG_DIR="$WORK/config" \
    "$G" --endpoint "$URL" --token "$TOKEN" -q push "$WORK/model" bench/model >/dev/null
  t1=$(now); NPUSH+=("$(python3 -c "print(f'{$t1 - $t0:.1f}')")")
  rm -rf "$WORK/cache"
  t0=$(now)
  GRANARY_CACHE="$WORK/cache" GRANARY_CONFIG_DIR="$WORK/config" \
    "$G" --endpoint "$URL" -q pull bench/model -o "$WORK/out" >/dev/null
  t1=$(now); NPULL+=("$(python3 -c "print(f'{$t1 - $t0:.1f}')")")
  same "$WORK/out"
  stop_server

  for path in xet lfs; do
    echo "run $i: hf upload/download over $path..." >&2
    rm -rf "$WORK/data" "$WORK/out" "$WORK/hf-home"
    start_server "$WORK/data"
    disable=""; [ "$path" = lfs ] && disable=1
    hf repos create bench/model >/dev/null
    t0=$(now)
    # The client's own CPU time (user + system) beside the wall time: on a machine with
    # few cores it bounds how fast any server can make the transfer.
    HF_HUB_DISABLE_XET=$disable hf_timed "$WORK/cpu" upload bench/model "$WORK/model" . >/dev/null
    t1=$(now); up="$(python3 -c "print(f'{$t1 - $t0:.1f}')")"
    cpu="$(awk '{printf "%.1f", $1 + $2}' "$WORK/cpu")"
    rm -rf "$WORK/hf-home"
    t0=$(now)
    HF_HUB_DISABLE_XET=$disable hf download bench/model --local-dir "$WORK/out" >/dev/null
    t1=$(now); down="$(python3 -c "print(f'{$t1 - $t0:.1f}')")"
    same "$WORK/out"
    if [ "$path" = xet ]; then
      # The download must have gone over Xet: /resolve names the file's Xet hash.
      shard="$(cd "$WORK/model" && ls ./*.safetensors | head -1)"
      curl -fsSI -H "Authorization: Bearer $TOKEN" "$URL/bench/model/resolve/main/${shard#./}" >"$WORK/headers"
      grep -qi '^x-xet-hash:' "$WORK/headers" || { echo "the download did not go over Xet" >&2; exit 1; }
      XUP+=("$up"); XDOWN+=("$down"); XCPU+=("$cpu")
      XORB_BYTES=$(du -sb "$WORK/data/objects/xet" | cut -f1)
      BLOB_BYTES=$(du -sb "$WORK/data/objects/blobs" | cut -f1)
    else
      LUP+=("$up"); LDOWN+=("$down")
    fi
    stop_server
  done
done

med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
P=$(med "${NPUSH[@]}"); L=$(med "${NPULL[@]}")
XU=$(med "${XUP[@]}"); XD=$(med "${XDOWN[@]}"); XC=$(med "${XCPU[@]}"); LU=$(med "${LUP[@]}"); LD=$(med "${LDOWN[@]}")

SECTION="$WORK/section.md"
cat >"$SECTION" <<MD
## Xet (issue 16)

Measured by \`bench/xet.sh\` on $(date -u +%Y-%m-%d) ($(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')):
a $(python3 -c "print(f'{$BYTES / 2**30:.2f}')") GiB model (4 safetensors shards of random f32), $PROFILE builds, a fresh server
(SQLite, local files, no verification worker) per path, client and server on one machine over
loopback, files in the page cache, an empty client cache before each transfer. \`hf\` is
huggingface_hub 2.4.0 with hf_xet 1.8.0; "LFS" is the same client with \`HF_HUB_DISABLE_XET=1\`.
$RUNS run(s); seconds of wall time (median).

| transfer | granary | hf over Xet | Xet ÷ granary | hf over LFS | target |
| --- | ---: | ---: | ---: | ---: | --- |
| upload | $P s | $XU s | $(ratio "$XU" "$P") | $LU s | Xet ≤ 1.5 × granary |
| download | $L s | $XD s | $(ratio "$XD" "$L") | $LD s | Xet ≤ 1.5 × granary |

Runs (s): granary push ${NPUSH[*]}; pull ${NPULL[*]}; Xet up ${XUP[*]}, down ${XDOWN[*]}; LFS up ${LUP[*]}, down ${LDOWN[*]}.
The \`hf\` process itself used $XC s of CPU (user + system, median) for the Xet upload (chunking,
hashing, compressing): spread over all $(nproc) cores, and with no server at all, that takes
$(python3 -c "print(f'{$XC / $(nproc):.1f}')") s, $(python3 -c "print(f'{$XC / $(nproc) / $P:.2f}')") × granary push. CPU runs (s): ${XCPU[*]}.
Storage after the Xet upload: xorbs $(python3 -c "print(f'{$XORB_BYTES / 2**30:.2f}')") GiB, blobs $(python3 -c "print(f'{$BLOB_BYTES / 2**30:.2f}')") GiB (both are kept: docs/HF.md, "Storage layout").
Load average (\`uptime\`, 1/5/15 min) at the end: $(uptime | sed 's/.*load average: //').
MD

replace_section "Xet (issue 16)" "$SECTION"
cat "$SECTION"
