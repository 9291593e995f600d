#!/usr/bin/env bash
# `npm run fuzz`: the property tests under test/fuzz/ with SEALGATE_FUZZ_RUNS runs each
# (default 10^5; `npm test` runs the same files with a sample of 500).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/ensure-node.sh
export SEALGATE_FUZZ_RUNS="${SEALGATE_FUZZ_RUNS:-100000}"
exec npx vitest run test/fuzz "$@"
