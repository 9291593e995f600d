import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { BreakGlass } from './break-glass.ts';

const POLICY = { maxFailures: 3, windowMs: 60_000, freeAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 };

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`emergency access credential on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    let now = 1_800_000_000_000;
    const clock = { now: () => now };
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    it.skipIf(!available)('works once, in any spelling; a rotation retires the old one; parallel uses: one wins', async () => {
      current = await openTestStore(dialect);
      const glass = new BreakGlass(current.store, clock, POLICY);
      expect(await glass.everMade()).toBe(false);
      expect(await glass.status()).toEqual({ active: null, lastUsed: null });
      expect(await glass.redeem('AAAA-BBBB', '192.0.2.1')).toEqual({ status: 'invalid' });

      const first = await glass.rotate();
      expect(first).toMatch(/^([A-Z2-7]{4}-){7}[A-Z2-7]{4}$/);
      const second = await glass.rotate();
      expect((await glass.status()).active).toEqual({ createdAt: now });
      // The replaced one no longer opens anything.
      expect(await glass.redeem(first, '192.0.2.1')).toEqual({ status: 'invalid' });

      now += 1000;
      const typed = ` ${second.toLowerCase().replace(/-/g, ' ')} `;
      const both = await Promise.all([glass.redeem(typed, '198.51.100.7'), glass.redeem(second, '198.51.100.8')]);
      expect(both.filter((o) => o.status === 'ok')).toHaveLength(1);
      expect(await glass.redeem(second, '198.51.100.7')).toEqual({ status: 'invalid' });
      const status = await glass.status();
      expect(status.active).toBeNull();
      expect(status.lastUsed?.at).toBe(now);
      expect(await glass.everMade()).toBe(true);
    });

    it.skipIf(!available)('guesses spend the network budget: past it even the right credential waits', async () => {
      current = await openTestStore(dialect);
      const glass = new BreakGlass(current.store, clock, POLICY);
      const credential = await glass.rotate();
      for (let i = 0; i < 3; i++) expect((await glass.redeem('WRONG-GUESS', '203.0.113.5')).status).toBe('invalid');
      const refused = await glass.redeem(credential, '203.0.113.5');
      expect(refused.status).toBe('locked');
      // Another network is not affected, and the credential was not spent by the refusal.
      expect(await glass.redeem(credential, '203.0.114.5')).toEqual({ status: 'ok' });
    });
  });
}
