import { afterAll } from 'vitest';

/*
 * Issue 14's proof for `--workers`: the gateway scenarios of test/integration/01-gateway (real
 * Postfix, swaks, kill -9 between the 250 and delivery, smuggling, size limits) run again with
 * two listener workers on SQLite. The helper reads the variable when each gateway starts.
 */
const before = process.env.SEALGATE_TEST_WORKERS;
process.env.SEALGATE_TEST_WORKERS = '2';
afterAll(() => {
  if (before === undefined) delete process.env.SEALGATE_TEST_WORKERS;
  else process.env.SEALGATE_TEST_WORKERS = before;
});
await import('../01-gateway/gateway.test.ts');
