#!/usr/bin/env bash
# Runs the `sealgate` command with a Node that can run it (installs Node 24 locally when
# the machine's is older, and the npm dependencies when missing). `npm start` = `serve`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/ensure-node.sh"
[ -d "$ROOT/node_modules/smtp-server" ] || (cd "$ROOT" && npm ci --no-fund --no-audit >&2)
exec node "$ROOT/src/sealgate.ts" "$@"
