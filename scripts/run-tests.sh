#!/usr/bin/env bash
# `npm test`: type check, then every suite (unit beside the code, integration with real
# peers under test/). Peers missing on the machine are installed when we are root;
# otherwise their suites say why they skip.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/ensure-node.sh
[ -d node_modules/vitest ] || npm ci --no-fund --no-audit
if [ "$(id -u)" = 0 ] && [ -z "${SEALGATE_SKIP_PEER_INSTALL:-}" ]; then bash scripts/install-peers.sh; fi
npx tsc --noEmit
exec npx vitest run "$@"
