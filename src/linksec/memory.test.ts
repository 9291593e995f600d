import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { LinkSecurityMemory } from './memory.ts';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`link-security memory on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    it.skipIf(!available)('keeps the latest observation per domain and MX', async () => {
      current = await openTestStore(dialect);
      const memory = new LinkSecurityMemory(current.store, 60_000);
      const base = { domain: 'Dest.test', mxHost: 'MX1.dest.test', ip: '127.0.0.10', starttlsOffered: true, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSubject: 'CN=mx1.dest.test', certValid: true, certError: null, requireTlsAdvertised: false, error: null, at: 1000 };
      expect((await memory.record(base)).level).toBe('tls-verified');
      await memory.record({ ...base, certValid: false, certError: 'self-signed certificate', at: 2000 });
      await memory.record({ ...base, mxHost: 'mx2.dest.test', starttlsOffered: false, tlsVersion: null, cipher: null, certSubject: null, certValid: false, at: 3000 });
      const records = await memory.list('dest.test');
      expect(records.map((r) => [r.mxHost, r.level, r.at, r.expiresAt])).toEqual([
        ['mx1.dest.test', 'tls', 2000, 62_000],
        ['mx2.dest.test', 'none', 3000, 63_000],
      ]);
      expect(records[0].certError).toBe('self-signed certificate');
    });
  });
}
