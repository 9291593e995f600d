import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { LinkSecurityMemory } from './memory.ts';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`link-security memory on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());
    const base = { domain: 'Dest.test', mxHost: 'MX1.dest.test', ip: '127.0.0.10', starttlsOffered: true, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSubject: 'CN=mx1.dest.test', certValid: true, certError: null, requireTlsAdvertised: false, error: null, at: 1000 };
    const plain = { starttlsOffered: false, tlsVersion: null, cipher: null, certSubject: null, certValid: false };

    it.skipIf(!available)('writes a repeated observation at most once a minute; a changed one at once', async () => {
      current = await openTestStore(dialect);
      const memory = new LinkSecurityMemory(current.store, 600_000);
      const storedAt = async () => (await memory.list('dest.test')).map((r) => [r.level, r.at]);
      await memory.record(base);
      expect(await memory.record({ ...base, at: 50_000 })).toMatchObject({ level: 'tls-verified', kept: false, at: 50_000 });
      expect(await storedAt()).toEqual([['tls-verified', 1000]]);
      await memory.record({ ...base, at: 61_500 });
      expect(await storedAt()).toEqual([['tls-verified', 61_500]]);
      await memory.record({ ...base, tlsVersion: 'TLSv1.2', at: 62_000 });
      expect(await storedAt()).toEqual([['tls-verified', 62_000]]);
      // Forgotten by the admin: the next session records again at once.
      await memory.forget('dest.test');
      await memory.record({ ...base, tlsVersion: 'TLSv1.2', at: 63_000 });
      expect(await storedAt()).toEqual([['tls-verified', 63_000]]);
    });

    it.skipIf(!available)('keeps one record per domain and MX; a weaker session never lowers one that holds', async () => {
      current = await openTestStore(dialect);
      const memory = new LinkSecurityMemory(current.store, 60_000);
      expect(await memory.record(base)).toMatchObject({ level: 'tls-verified', kept: false });
      // A stripped or unverified session within the TTL: the proof stays, with its own expiry.
      expect(await memory.record({ ...base, certValid: false, certError: 'self-signed certificate', at: 2000 })).toMatchObject({ level: 'tls', kept: true });
      expect(await memory.record({ ...base, ...plain, at: 3000 })).toMatchObject({ level: 'none', kept: true });
      await memory.record({ ...base, mxHost: 'mx2.dest.test', ...plain, at: 3000 });
      const records = await memory.list('dest.test');
      expect(records.map((r) => [r.mxHost, r.level, r.at, r.expiresAt])).toEqual([
        ['mx1.dest.test', 'tls-verified', 1000, 61_000],
        ['mx2.dest.test', 'none', 3000, 63_000],
      ]);
      // A session at the proved level (or above) refreshes it.
      await memory.record({ ...base, at: 30_000 });
      expect((await memory.proven('dest.test', 80_000)).map((r) => [r.mxHost, r.level, r.expiresAt])).toEqual([['mx1.dest.test', 'tls-verified', 90_000]]);
    });

    it.skipIf(!available)('lowers only after the TTL without contact, or when an admin forgets it', async () => {
      current = await openTestStore(dialect);
      const memory = new LinkSecurityMemory(current.store, 60_000);
      await memory.record(base);
      expect(await memory.proven('dest.test', 60_999)).toHaveLength(1);
      expect(await memory.proven('dest.test', 61_000)).toHaveLength(0);
      expect(await memory.record({ ...base, ...plain, at: 61_000 })).toMatchObject({ level: 'none', kept: false });
      await memory.record({ ...base, at: 70_000 });
      await memory.record({ ...base, mxHost: 'mx2.dest.test', at: 70_000 });
      expect(await memory.forget('DEST.test', 'mx2.dest.test')).toBe(1);
      expect((await memory.list('dest.test')).map((r) => r.mxHost)).toEqual(['mx1.dest.test']);
      expect(await memory.forget('dest.test')).toBe(1);
      expect(await memory.list('dest.test')).toEqual([]);
    });
  });
}
