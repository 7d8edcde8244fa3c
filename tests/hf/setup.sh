#!/usr/bin/env bash
# Creates the virtualenvs the Hub-compatibility tests run in (idempotent, fast when present):
#   /tmp/granary-hf-venv-2.4.0   huggingface_hub==2.4.0 + hf_xet==1.8.0 + pytest
#   /tmp/granary-hf-venv-0.36.2  huggingface_hub==0.36.2 + hf_xet==1.8.0 + pytest (what transformers 4.x pins)
# hf_xet is what both install by default on x86_64; it is pinned so that CI does not drift.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
for version in 2.4.0 0.36.2; do
    venv="/tmp/granary-hf-venv-$version"
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$version" <<'PY' 2>/dev/null; then
import sys, importlib.metadata, huggingface_hub, pytest
ok = huggingface_hub.__version__ == sys.argv[1] and importlib.metadata.version("hf_xet") == "1.8.0"
sys.exit(0 if ok else 1)
PY
        echo "ok: $venv (huggingface_hub $version)"
        continue
    fi
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "huggingface_hub==$version" "hf_xet==1.8.0" pytest
    echo "created: $venv (huggingface_hub $version)"
done

# The OpenSSF model-signing tool, which checks Granary's revision signatures in
# test_signing.py (it needs pyOpenSSL beside it).
venv=/tmp/granary-model-signing-venv
if [ -x "$venv/bin/model_signing" ] && "$venv/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("model-signing") != "1.1.1")' 2>/dev/null; then
    echo "ok: $venv (model-signing 1.1.1)"
else
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "model-signing==1.1.1" "pyOpenSSL==26.4.0"
    echo "created: $venv (model-signing 1.1.1)"
fi
