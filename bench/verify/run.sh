#!/usr/bin/env bash
# Benchmarks verification (issue 4): generates a ~100M-parameter Llama-style
# fixture, then measures, 3 times each, reading its files (cat), hashing them
# (openssl dgst -sha256) and `granary-verify` (load + finiteness + smoke
# inference), and writes the "Verification (issue 4)" section of BENCHMARKS.md.
# Usage: bench/verify/run.sh [PARAMS]   (default 100000000)
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PARAMS=${1:-100000000}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
RUNS=3

cargo build --release -p granary-verify
BIN=$TARGET/release
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

now() { date +%s%N; }  # nanoseconds
since() { echo $(( $(now) - $1 )); }
t0=$(now)
"$BIN/granary-fixture" llama_params "$PARAMS" "$WORK/model"
gen_ns=$(since "$t0")
bytes=$(du -cb "$WORK"/model/* | tail -1 | cut -f1)

: > "$WORK/times"
for i in $(seq $RUNS); do
  t0=$(now); cat "$WORK"/model/* > /dev/null; echo "cat $(since "$t0")" >> "$WORK/times"
  t0=$(now); openssl dgst -sha256 "$WORK"/model/model.safetensors > /dev/null
  echo "sha256 $(since "$t0")" >> "$WORK/times"
  t0=$(now)
  "$BIN/granary-verify" --dir "$WORK/model" --memory-budget 8000000000 --time-budget-secs 600 > "$WORK/report.$i.json"
  echo "verify $(since "$t0")" >> "$WORK/times"
done

python3 - "$WORK" "$RUNS" "$bytes" "$gen_ns" "$ROOT/BENCHMARKS.md" <<'PY'
import json, os, statistics, subprocess, sys, datetime, re
work, runs, size, gen_s, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) / 1e9, sys.argv[5]
times = {}
for line in open(f"{work}/times"):
    k, v = line.split()
    times.setdefault(k, []).append(int(v) / 1e9)
reports = [json.load(open(f"{work}/report.{i}.json")) for i in range(1, runs + 1)]
for r in reports:
    assert r["status"] == "passed", r
fps = {json.dumps(r["fingerprint"], sort_keys=True) for r in reports}
def field(k): return [r[k] for r in reports]
def row(name, xs, unit, fmt="{:.0f}"):
    return f"| {name} | {fmt.format(min(xs))} | {fmt.format(statistics.median(xs))} | {unit} |"
ms = lambda xs: [x * 1000 for x in xs]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
r0 = reports[0]
params = sum(r0["parameters"].values())
lines = [
    "## Verification (issue 4)",
    "",
    f"Measured by `bench/verify/run.sh` on {datetime.date.today()} ({os.cpu_count()} CPUs, {cpu}), release build,",
    f"device `{r0['device']}`, candle {r0['candle_version']}, dtype {r0['dtype']}. The model: a Llama-style",
    f"decoder of {params/1e6:.1f}M parameters (hidden 768, vocabulary 32000, random F32 weights, no tokenizer),",
    f"{size/1e6:.0f} MB of files (written by `granary-fixture` in {gen_s:.1f} s), in the page cache.",
    f"`granary-verify` wall time covers process start, header checks, reading and loading every tensor,",
    f"the NaN/infinity scan, and the smoke inference (prefill of 6 tokens, 16 greedy tokens). {runs} runs each.",
    "",
    "| measure | min | median | unit |",
    "| --- | ---: | ---: | --- |",
    row("`cat` files to /dev/null", ms(times["cat"]), "ms"),
    row("`openssl dgst -sha256`", ms(times["sha256"]), "ms"),
    row("`granary-verify` wall time", ms(times["verify"]), "ms"),
    row("load (read + to device + finite check)", field("load_ms"), "ms"),
    row("prefill latency", field("latency_ms"), "ms", "{:.1f}"),
    row("decode", field("tokens_per_s"), "tokens/s", "{:.1f}"),
    row("peak resident memory", [x / 1e6 for x in field("peak_memory_bytes")], "MB"),
    "",
    f"Runs (ms): cat {' '.join(f'{x:.0f}' for x in ms(times['cat']))}; "
    f"sha256 {' '.join(f'{x:.0f}' for x in ms(times['sha256']))}; "
    f"verify {' '.join(f'{x:.0f}' for x in ms(times['verify']))}.",
    f"Fingerprint identical across the {runs} runs: {'yes' if len(fps) == 1 else 'NO'}. "
    f"Load average when the runs ended: {os.getloadavg()[0]:.1f} (the machine is shared; figures are noisy).",
    "Peak memory is about twice the files: each file is read whole into memory, then its tensors copied out.",
    "",
    "CUDA: not measured, no GPU lent to this task.",
    "",
]
section = "\n".join(lines)
text = open(out).read() if os.path.exists(out) else "# Benchmarks\n\n"
pattern = re.compile(r"^## Verification \(issue 4\)\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
open(out, "w").write(text)
print(section)
PY
