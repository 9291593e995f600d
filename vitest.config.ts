import { defineConfig } from 'vitest/config';

/*
 * Scenarios whose peers bind fixed loopback addresses, or that measure the gateway's own
 * deadlines (a second busy file would shift them), run one file at a time. Attack files that
 * start everything on port 0 and a fresh data dir or schema run two at a time: most of their
 * time is spent waiting on sockets, not on the CPU.
 */
const TIMING_SENSITIVE = [
  'test/attacks/i8-10-*.test.ts',
  'test/attacks/i8-11-header-trickle.test.ts',
  'test/attacks/i9-17-slow-http.test.ts',
  'test/attacks/i9-03-slow-receiver-lease.test.ts',
  'test/attacks/att-tls-abort-crash.test.ts',
  'test/attacks/i10-03-browser-binding.test.ts',
  // Met ECONNREFUSED on its gateway's inbound port once beside parallel tests.
  'test/attacks/i8-05-nested-comment-authserv.test.ts',
];
const PARALLEL_SAFE = ['test/attacks/**/*.test.ts', 'test/fuzz/**/*.test.ts', 'test/architecture/**/*.test.ts'];
/*
 * Scenarios that bind nothing fixed (port 0 / freePort, their own temp dir and schema), start
 * no Postfix or dnsmasq (those take fixed 127.0.0.x addresses) and measure no deadline of the
 * gateway: two at a time. A new folder is serial until it passed three runs in a row here.
 * Not here: 17-openpgp/sop-sqop (dozens of spawnSync calls; timed out beside another file).
 */
const INTEGRATION_PAIRED = [
  'test/integration/11-branding/locale.test.ts',
  // Every 12-cli file starts its gateways on free ports in their own temp dirs.
  'test/integration/12-cli/*.test.ts',
  'test/integration/14-ops/metrics.test.ts',
  'test/integration/16-contrib/systemd-unit.test.ts',
  'test/integration/18-smime/*.test.ts',
  'test/integration/21-auth/rfc7208-suite.test.ts',
  'test/helpers/ca.test.ts',
];

/*
 * `npm test` (scripts/run-tests.sh) runs `unit` and the serial `integration` project in one vitest
 * process beside `attacks` and `integration-paired` in a second (SEALGATE_TEST_LANE_WORKERS=1 in
 * both, so two files run at a time in all), then `timing` alone. A plain `vitest run` runs every project here in its own order.
 */
const LANE_WORKERS = Math.max(1, Number(process.env.SEALGATE_TEST_LANE_WORKERS ?? 2) || 2);

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts'], testTimeout: 20_000, maxWorkers: LANE_WORKERS } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/helpers/**/*.test.ts'],
          exclude: INTEGRATION_PAIRED,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'timing',
          include: TIMING_SENSITIVE,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'integration-paired',
          include: INTEGRATION_PAIRED,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          maxWorkers: LANE_WORKERS,
        },
      },
      {
        test: {
          name: 'attacks',
          include: PARALLEL_SAFE,
          exclude: TIMING_SENSITIVE,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          maxWorkers: LANE_WORKERS,
        },
      },
    ],
  },
});
