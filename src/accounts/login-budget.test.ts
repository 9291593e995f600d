import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { LoginBudget, delayAfter, networkOf, type BudgetPolicy } from './login-budget.ts';

const POLICY: BudgetPolicy = { maxFailures: 5, windowMs: 60_000, freeAttempts: 2, baseDelayMs: 1000, maxDelayMs: 4000 };

describe('networkOf', () => {
  it('keeps IPv4, unwraps IPv4-mapped, and aggregates IPv6 by /64', () => {
    expect(networkOf('192.0.2.7')).toBe('192.0.2.7');
    expect(networkOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(networkOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(networkOf('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(networkOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(networkOf('::1')).toBe('0:0:0:0::/64');
  });
  it('doubles the delay past the free attempts, up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => delayAfter(n, POLICY))).toEqual([0, 0, 1000, 2000, 4000, 4000]);
  });
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`login budget on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    it.skipIf(!available)('reserves atomically under parallel attempts, delays, locks, expires, refunds', async () => {
      current = await openTestStore(dialect);
      let now = 1_000_000;
      const budget = new LoginBudget(current.store, { now: () => now });
      const noDelay = { ...POLICY, freeAttempts: 5 };
      const results = await Promise.all(Array.from({ length: 50 }, () => budget.reserve([{ key: 'account:a', policy: noDelay }])));
      expect(results.filter((r) => !('reason' in r))).toHaveLength(5);
      expect(results.filter((r) => 'reason' in r && r.reason === 'locked')).toHaveLength(45);
      now += 60_000;
      // A new window: the lock is over.
      const fresh = await budget.reserve([{ key: 'account:a', policy: noDelay }]);
      expect('reason' in fresh).toBe(false);

      // Delays: two free, then each must wait.
      const r1 = await budget.reserve([{ key: 'ip:x', policy: POLICY }]);
      const r2 = await budget.reserve([{ key: 'ip:x', policy: POLICY }]);
      const r3 = await budget.reserve([{ key: 'ip:x', policy: POLICY }]);
      expect([r1, r2, r3].every((r) => !('reason' in r))).toBe(true);
      expect(await budget.reserve([{ key: 'ip:x', policy: POLICY }])).toEqual({ reason: 'slow-down', retryAfterMs: 1000, key: 'ip:x' });
      now += 1000;
      // A success gives its own attempt back.
      const r4 = await budget.reserve([{ key: 'ip:x', policy: POLICY }]);
      expect('reason' in r4).toBe(false);
      if (!('reason' in r4)) await budget.refund(r4);
      const row = await current.store.db.selectFrom('login_budgets').selectAll().where('key', '=', 'ip:x').executeTakeFirstOrThrow();
      expect(row.failures).toBe(3);

      // All or nothing: a refused second key gives the first back.
      const locked = await budget.reserve([{ key: 'ip:y', policy: POLICY }, { key: 'account:a', policy: { ...noDelay, maxFailures: 1 } }]);
      expect(locked).toMatchObject({ reason: 'locked' });
      expect((await current.store.db.selectFrom('login_budgets').select('failures').where('key', '=', 'ip:y').executeTakeFirstOrThrow()).failures).toBe(0);

      // Sweeping drops only rows whose window (and delay) have passed.
      now += 2 * 60_000 + 4000;
      await budget.reserve([{ key: 'ip:z', policy: POLICY }]);
      // (reserve sweeps now and then by itself; an explicit sweep finds the rest.)
      await budget.sweep();
      expect((await current.store.db.selectFrom('login_budgets').select('key').execute()).map((r) => r.key)).toEqual(['ip:z']);
    });
  });
}

describe('login budget on the database clock (PostgreSQL)', async () => {
  const available = await hasPostgres();
  let current: TestStore | undefined;
  afterEach(async () => current?.cleanup());

  it.skipIf(!available)('a node whose clock runs 60 s ahead still waits out the delay another node set', async () => {
    current = await openTestStore('postgres');
    const policy: BudgetPolicy = { maxFailures: 10, windowMs: 600_000, freeAttempts: 0, baseDelayMs: 30_000, maxDelayMs: 30_000 };
    const onTime = new LoginBudget(current.store, { now: () => Date.now() }, { databaseClock: true });
    const ahead = new LoginBudget(current.store, { now: () => Date.now() + 60_000 }, { databaseClock: true });
    expect('reason' in (await onTime.reserve([{ key: 'account:skew', policy }]))).toBe(false);
    // The first failure set a 30 s delay; the node 60 s ahead must not read it as past.
    const refused = await ahead.reserve([{ key: 'account:skew', policy }]);
    expect(refused).toMatchObject({ reason: 'slow-down' });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(25_000);
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(30_000);
  });
});
