#!/usr/bin/env bash
# The real-browser test of the web pages: drives headless Chromium through the pages
# of a granary-server ($GRANARY_SERVER, default the one scripts/test's build made; built
# here when missing).
# Screenshots land in target/browser-screenshots/. Run setup.sh once first.
set -euo pipefail
cd "$(dirname "$0")/../.."

export GRANARY_SERVER="${GRANARY_SERVER:-$PWD/target/debug/granary-server}"
[ -x "$GRANARY_SERVER" ] || cargo build -q -p granary-server --bin granary-server
exec node tests/browser/test.mjs
