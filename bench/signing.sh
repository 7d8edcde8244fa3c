#!/usr/bin/env bash
# What signing adds to a commit (issue 18): the OMS statement of a 1,000-file revision built and
# signed with ECDSA P-256, as the commit does inside its transaction (`server/examples/sign_commit.rs`),
# against the target of 5 ms. Replaces the section "Signing (issue 18)" of BENCHMARKS.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
cargo build --release -p granary-server --example sign_commit >&2
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/sign_commit"
read -r small < <("$BIN" 1000 200)
read -r large < <("$BIN" 10000 50)
median() { sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' <<<"$1"; }
p99() { sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$1"; }
SECTION="$(mktemp)"
trap 'rm -f "$SECTION"' EXIT
cat >"$SECTION" <<MD
## Signing (issue 18)

Measured by \`bench/signing.sh\` on $(date -u +%Y-%m-%d) ($(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), release build:
the work signing adds inside a commit's transaction (the revision's OMS statement built from its
manifest and signed with ECDSA P-256; one more row inserted besides, not timed here).

| revision | median | p99 | target |
| --- | ---: | ---: | --- |
| 1,000 files (200 runs) | $(median "$small") ms | $(p99 "$small") ms | ≤ 5 ms |
| 10,000 files (50 runs) | $(median "$large") ms | $(p99 "$large") ms | |

Load average (\`uptime\`, 1/5/15 min) at the end: $(uptime | sed 's/.*load average: //').
MD
replace_section "Signing (issue 18)" "$SECTION"
cat "$SECTION"
