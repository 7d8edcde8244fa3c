#!/usr/bin/env bash
# The real-browser test of the web pages: builds granary-server (a no-op after
# scripts/test's build), then drives headless Chromium through the pages.
# Screenshots land in target/browser-screenshots/. Run setup.sh once first.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build -q -p granary-server --bin granary-server
exec node tests/browser/test.mjs
