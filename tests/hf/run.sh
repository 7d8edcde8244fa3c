#!/usr/bin/env bash
# Runs the Hub-compatibility tests with each client version. Builds nothing:
# expects target/debug/granary-server (cargo build -p granary-server) and the
# virtualenvs of tests/hf/setup.sh. Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export GRANARY_SERVER="${GRANARY_SERVER:-$root/target/debug/granary-server}"
GRANARY_SERVER="$(realpath "$GRANARY_SERVER")"; export GRANARY_SERVER
[ -x "$GRANARY_SERVER" ] || { echo "missing $GRANARY_SERVER: run cargo build -p granary-server" >&2; exit 2; }
status=0
for version in 2.4.0 0.36.2; do
    venv="/tmp/granary-hf-venv-$version"
    [ -x "$venv/bin/python" ] || { echo "missing $venv: run tests/hf/setup.sh" >&2; exit 2; }
    echo "== huggingface_hub $version"
    (cd "$root/tests/hf" && PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@") || status=1
done
exit $status
