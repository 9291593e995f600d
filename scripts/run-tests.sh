#!/usr/bin/env bash
# `npm test`: type check, then every suite (unit beside the code, integration with real
# peers under test/). Peers missing on the machine are installed when we are root;
# otherwise their suites say why they skip.
#
# With no arguments the suite runs in two vitest processes at once, one file at a time each:
# `unit` then the `integration` project (scenarios that must not overlap each other) beside
# `attacks` and `integration-paired` (about as long); then `timing` (tests of the gateway's
# own deadlines) alone. With arguments, one `vitest run` with them (a file, a folder, --project ...).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/ensure-node.sh
[ -d node_modules/vitest ] || npm ci --no-fund --no-audit
if [ "$(id -u)" = 0 ] && [ -z "${SEALGATE_SKIP_PEER_INSTALL:-}" ]; then bash scripts/install-peers.sh; fi
npx tsc --noEmit
if [ "$#" -gt 0 ]; then exec npx vitest run "$@"; fi

serial_log="$(mktemp -t sealgate-tests-integration.XXXXXX)"
trap 'rm -f "$serial_log"' EXIT
SEALGATE_TEST_PORT_LANE=0 SEALGATE_TEST_LANE_WORKERS=1 npx vitest run --project unit --project integration > "$serial_log" 2>&1 &
serial_pid=$!
status=0
SEALGATE_TEST_PORT_LANE=1 SEALGATE_TEST_LANE_WORKERS=1 npx vitest run --project attacks --project integration-paired || status=$?
serial_status=0
wait "$serial_pid" || serial_status=$?
echo
echo "== projects unit and integration (ran beside the above) =="
cat "$serial_log"
SEALGATE_TEST_PORT_LANE=2 npx vitest run --project timing || status=$?
[ "$serial_status" = 0 ] || status=$serial_status
if [ "$status" != 0 ]; then echo "npm test: a part of the suite failed (see above)" >&2; fi
exit "$status"
