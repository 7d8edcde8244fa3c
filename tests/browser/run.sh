#!/usr/bin/env bash
# The real-browser test of the web pages: drives headless Chromium through the pages
# of $GRANARY_SERVER (scripts/test sets it to the binary its build made), or, run alone,
# of target/debug/granary-server built here first.
# Screenshots land in target/browser-screenshots/. Run setup.sh once first.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ -n "${GRANARY_SERVER:-}" ] || cargo build -q -p granary-server --bin granary-server
exec node tests/browser/test.mjs
