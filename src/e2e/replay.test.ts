import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { ReplayLedger, replayDigest } from './replay.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY = 24 * 3600 * 1000;
const key = { signerKey: 'ABCDEF0123', messageId: '<m1@sender.test>', signedAt: new Date(NOW.getTime() - 60_000) };

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe.skipIf(dialect === 'postgres' && !(await hasPostgres()))(`replay ledger on ${dialect}`, () => {
    let t: TestStore;
    afterEach(async () => t?.cleanup());

    it('flags the second sighting, and exactly one of two copies claimed at once', async () => {
      t = await openTestStore(dialect);
      const ledger = new ReplayLedger(t.store, 30 * DAY);
      expect((await ledger.claim(key, NOW)).state).toBe('first');
      expect((await ledger.claim(key, new Date(NOW.getTime() + DAY))).state).toBe('replay');
      const other = { ...key, messageId: '<m2@sender.test>' };
      const both = await Promise.all([ledger.claim(other, NOW), ledger.claim(other, NOW)]);
      expect(both.map((v) => v.state).sort()).toEqual(['first', 'replay']);
    });

    it('a released claim and an expired one are no replay; a signature older than the window says so', async () => {
      t = await openTestStore(dialect);
      const ledger = new ReplayLedger(t.store, 30 * DAY);
      const first = await ledger.claim(key, NOW);
      await ledger.release(first.digest);
      expect((await ledger.claim(key, NOW)).state).toBe('first');
      expect((await ledger.claim(key, new Date(NOW.getTime() + 31 * DAY))).state).toBe('too-old');
      expect((await ledger.claim({ ...key, signedAt: new Date(NOW.getTime() - 40 * DAY) }, NOW)).state).toBe('too-old');
    });
  });
}

describe('replay digest', () => {
  it('differs when any part differs, and hides the parts', () => {
    const base = replayDigest(key);
    expect(replayDigest({ ...key, signerKey: 'abcdef0123' })).toBe(base);
    expect(replayDigest({ ...key, messageId: '<m1@sender.tesT>' })).not.toBe(base);
    expect(replayDigest({ ...key, signedAt: new Date(key.signedAt.getTime() + 1000) })).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
  });
});
