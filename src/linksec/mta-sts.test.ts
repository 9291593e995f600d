import net from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPolicyServer, type PolicyServer } from '../../test/helpers/https-policy.ts';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { MAX_AGE_LIMIT, MtaStsCache, mxMatchesPolicy, policyToApply, type MtaStsFetchOptions, type MtaStsPolicy } from './mta-sts.ts';

const policyText = (mode: string, maxAge: number, ...mx: string[]) =>
  ['version: STSv1', `mode: ${mode}`, ...mx.map((m) => `mx: ${m}`), `max_age: ${maxAge}`, ''].join('\r\n');

const ENFORCE = policyText('enforce', 86_400, 'mx1.dest.test', '*.backup.dest.test');

describe('mxMatchesPolicy', () => {
  const policy = { mx: ['mx1.example.test', '*.example.test'] };
  it.each([
    ['mx1.example.test', true],
    ['MX1.Example.TEST.', true],
    ['a.example.test', true],
    ['a.b.example.test', false],
    ['example.test', false],
    ['mx1.example.test.evil', false],
    ['aexample.test', false],
  ])('%s → %s', (host, expected) => {
    expect(mxMatchesPolicy(host, policy)).toBe(expected);
  });

  it('matches exact names only when there is no wildcard, in any case', () => {
    expect(mxMatchesPolicy('mx.dest.test', { mx: ['MX.Dest.Test.'] })).toBe(true);
    expect(mxMatchesPolicy('mx2.dest.test', { mx: ['mx.dest.test'] })).toBe(false);
    expect(mxMatchesPolicy('mx.dest.test', { mx: [] })).toBe(false);
  });
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`MTA-STS lookups on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let server: PolicyServer;
    let strangerServer: PolicyServer;
    let current: TestStore | undefined;
    let txt: Map<string, string[][]>;
    let clock: number;

    beforeAll(async () => {
      if (!available) return;
      server = await startPolicyServer({ policies: { 'dest.test': ENFORCE } });
      // Same names, but a certificate from a CA the client does not trust.
      strangerServer = await startPolicyServer({ policies: { 'dest.test': ENFORCE } });
    });
    afterAll(async () => {
      await server?.stop();
      await strangerServer?.stop();
    });
    beforeEach(() => {
      txt = new Map([['_mta-sts.dest.test', [['v=STSv1; id=20240101']]]]);
      clock = 1_000_000;
      server?.setPolicy('dest.test', ENFORCE);
      if (server) server.requests.length = 0;
    });
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    const options = (overrides: Partial<MtaStsFetchOptions> = {}): MtaStsFetchOptions => ({
      resolveTxt: async (name) => {
        const records = txt.get(name);
        if (!records) throw Object.assign(new Error(`${name} does not exist (NXDOMAIN)`), { code: 'ENOTFOUND' });
        return records;
      },
      ca: server.caPem,
      port: server.port,
      connectAddress: async () => '127.0.0.1',
      timeoutMs: 5_000,
      now: () => clock,
      ...overrides,
    });
    const openCache = async (overrides: Partial<MtaStsFetchOptions> = {}) => {
      current = await openTestStore(dialect);
      return new MtaStsCache(current.store, options(overrides));
    };
    const errorOf = async (cache: MtaStsCache, domain = 'dest.test') => {
      const result = await cache.lookup(domain);
      if (result.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(result)}`);
      return result;
    };

    it.skipIf(!available)('fetches an enforce policy, stores it and serves the next lookup from the cache', async () => {
      const cache = await openCache();
      const first = await cache.lookup('Dest.Test.');
      const expected: MtaStsPolicy = { id: '20240101', mode: 'enforce', mx: ['mx1.dest.test', '*.backup.dest.test'], maxAge: 86_400, fetchedAt: 1_000_000, expiresAt: 1_000_000 + 86_400_000 };
      expect(first).toEqual({ kind: 'policy', source: 'fetched', policy: expected });
      expect(server.requests).toEqual([{ host: 'mta-sts.dest.test', servername: 'mta-sts.dest.test', path: '/.well-known/mta-sts.txt' }]);
      expect(await cache.cached('dest.test')).toEqual(expected);

      clock += 3_600_000;
      expect(await cache.lookup('dest.test')).toEqual({ kind: 'policy', source: 'cache', policy: expected });
      // A second cache on the same store (another process) reads the row, too.
      const other = new MtaStsCache(current!.store, options());
      expect((await other.lookup('dest.test')).kind).toBe('policy');
      expect(server.requests).toHaveLength(1);
    });

    it.skipIf(!available)('refetches when the TXT id changes', async () => {
      const cache = await openCache();
      await cache.lookup('dest.test');
      txt.set('_mta-sts.dest.test', [['v=STSv1; id=20240202']]);
      server.setPolicy('dest.test', policyText('testing', 600, 'mx.dest.test'));
      clock += 1000;
      const result = await cache.lookup('dest.test');
      expect(result).toMatchObject({ kind: 'policy', source: 'fetched', policy: { id: '20240202', mode: 'testing', mx: ['mx.dest.test'], maxAge: 600, expiresAt: clock + 600_000 } });
      expect(server.requests).toHaveLength(2);
    });

    it.skipIf(!available)('keeps the unexpired cached policy when a refetch fails or the TXT record disappears', async () => {
      const cache = await openCache({ retryAfterFailureMs: 60_000 });
      const fetched = policyToApply(await cache.lookup('dest.test'));
      txt.set('_mta-sts.dest.test', [['v=STSv1; id=20240202']]);
      server.setPolicy('dest.test', { status: 500, body: 'oops' });
      const failed = await errorOf(cache);
      expect(failed.reason).toMatch(/HTTP 500/);
      expect(failed.cached).toEqual(fetched);
      expect(policyToApply(failed)).toEqual(fetched);
      // Within the retry pause the broken host is not asked again.
      expect((await errorOf(cache)).cached).toEqual(fetched);
      expect(server.requests).toHaveLength(2);

      txt.delete('_mta-sts.dest.test');
      expect(await cache.lookup('dest.test')).toEqual({ kind: 'policy', source: 'cache', policy: fetched });
    });

    it.skipIf(!available)('reports an error with no policy when the cache has expired and the fetch fails', async () => {
      const cache = await openCache();
      server.setPolicy('dest.test', policyText('enforce', 60, 'mx1.dest.test'));
      await cache.lookup('dest.test');
      clock += 61_000;
      server.setPolicy('dest.test', { status: 404 });
      const failed = await errorOf(cache);
      expect(failed.cached).toBeUndefined();
      expect(failed.reason).toMatch(/HTTP 404/);
      expect(policyToApply(failed)).toBeUndefined();

      txt.delete('_mta-sts.dest.test');
      expect(await cache.lookup('dest.test')).toEqual({ kind: 'none' });
    });

    it.skipIf(!available)('rejects a certificate for another name or from an untrusted CA', async () => {
      txt.set('_mta-sts.unlisted.test', [['v=STSv1; id=1']]);
      const cache = await openCache();
      expect((await errorOf(cache, 'unlisted.test')).reason).toMatch(/certificate of mta-sts\.unlisted\.test did not verify/);

      const untrusting = await openCacheOnSameStore({ port: strangerServer.port });
      expect((await errorOf(untrusting)).reason).toMatch(/certificate of mta-sts\.dest\.test did not verify/);
      expect(strangerServer.requests).toHaveLength(0);
    });
    const openCacheOnSameStore = async (overrides: Partial<MtaStsFetchOptions>) => new MtaStsCache(current!.store, options(overrides));

    it.skipIf(!available)('does not follow a redirect', async () => {
      const cache = await openCache();
      server.setPolicy('dest.test', { status: 301, redirect: 'https://mta-sts.dest.test/other.txt' });
      expect((await errorOf(cache)).reason).toMatch(/redirects \(HTTP 301 to https:\/\/mta-sts\.dest\.test\/other\.txt\)/);
      expect(server.requests).toHaveLength(1);
    });

    it.skipIf(!available)('refuses a body over the size limit', async () => {
      const cache = await openCache();
      server.setPolicy('dest.test', { status: 200, body: `${ENFORCE}${'# padding\r\n'.repeat(7_000)}` });
      expect((await errorOf(cache)).reason).toMatch(/larger than 65536 bytes/);
      const small = await openCacheOnSameStore({ maxBytes: 50 });
      server.setPolicy('dest.test', ENFORCE);
      expect((await errorOf(small)).reason).toMatch(/larger than 50 bytes/);
    });

    it.skipIf(!available)('refuses a policy not served as text/plain', async () => {
      const cache = await openCache();
      server.setPolicy('dest.test', { status: 200, body: ENFORCE, contentType: 'text/html; charset=utf-8' });
      expect((await errorOf(cache)).reason).toMatch(/served as "text\/html; charset=utf-8"/);
    });

    it.skipIf(!available)('accepts text/plain with parameters and caps max_age at one year', async () => {
      const cache = await openCache();
      server.setPolicy('dest.test', { status: 200, body: policyText('enforce', 99_999_999, 'mx1.dest.test'), contentType: 'text/plain; charset=utf-8' });
      const result = await cache.lookup('dest.test');
      expect(policyToApply(result)?.maxAge).toBe(MAX_AGE_LIMIT);
    });

    it.skipIf(!available)('gives up on a policy host that never answers', async () => {
      const silent = net.createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const cache = await openCache({ port: (silent.address() as net.AddressInfo).port, timeoutMs: 300 });
        expect((await errorOf(cache)).reason).toMatch(/no complete answer within 300 ms/);
      } finally {
        silent.close();
      }
    });

    it.skipIf(!available)('reports an invalid policy file', async () => {
      const cache = await openCache();
      server.setPolicy('dest.test', 'version: STSv1\r\nmode: enforce\r\nmax_age: 600\r\n');
      expect((await errorOf(cache)).reason).toMatch(/not a valid MTA-STS policy \(Missing mx field\)/);
    });

    it.skipIf(!available)('treats two STSv1 TXT records as no policy, without fetching', async () => {
      txt.set('_mta-sts.dest.test', [['v=STSv1; id=1'], ['v=STSv1; id=2'], ['unrelated']]);
      const cache = await openCache();
      const failed = await errorOf(cache);
      expect(failed.reason).toMatch(/more than one TXT record/);
      expect(policyToApply(failed)).toBeUndefined();
      expect(server.requests).toHaveLength(0);
    });

    it.skipIf(!available)('ignores TXT records that are not MTA-STS and answers none without any', async () => {
      txt.set('_mta-sts.dest.test', [['v=spf1 -all'], ['v=STSv1; ', 'id=abc']]);
      const cache = await openCache();
      expect(await cache.lookup('dest.test')).toMatchObject({ kind: 'policy', policy: { id: 'abc' } });
      expect(await cache.lookup('nothing.test')).toEqual({ kind: 'none' });
    });

    it.skipIf(!available)('reports a transient DNS failure, keeping the cached policy', async () => {
      const cache = await openCache();
      const fetched = policyToApply(await cache.lookup('dest.test'));
      const broken = await openCacheOnSameStore({ resolveTxt: async () => { throw Object.assign(new Error('DNS lookup of TXT failed: ESERVFAIL'), { code: 'ESERVFAIL' }); } });
      const failed = await errorOf(broken);
      expect(failed.reason).toMatch(/ESERVFAIL/);
      expect(failed.cached).toEqual(fetched);
    });
  });
}
