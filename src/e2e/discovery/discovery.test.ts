/**
 * Discovery against a real HTTPS server on 127.0.0.1 with a certificate from the test CA, names
 * answered by a real dnsmasq: WKD advanced and direct method, a keyserver over VKS and HKP, the
 * cache, and the Autocrypt header parser.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystemResolver } from '../../dns/index.ts';
import { createVault } from '../../vault/index.ts';
import { createTestCa } from '../../../test/helpers/ca.ts';
import { startDns, type DnsServer } from '../../../test/helpers/dns.ts';
import { tempDir } from '../../../test/helpers/ports.ts';
import { openTestStore, type TestStore } from '../../../test/helpers/stores.ts';
import { E2eKeyStore } from '../keystore/index.ts';
import { autocryptHeaderValues, autocryptObservation, parseAutocrypt } from './autocrypt-header.ts';
import { KeyDiscovery } from './discover.ts';
import { createHttpsFetcher } from './https-fetch.ts';
import { wkdLocation, zBase32 } from './wkd.ts';

const NOW = new Date();

async function publicKey(email: string): Promise<{ binary: Uint8Array; armored: string; fingerprint: string }> {
  const { publicKey: armored } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email }], format: 'armored', date: new Date(NOW.getTime() - 60_000) });
  const key = await openpgp.readKey({ armoredKey: armored });
  return { binary: key.write(), armored, fingerprint: key.getFingerprint() };
}

it('hashes the local part as the WKD draft example does', () => {
  expect(zBase32(Buffer.from([0]))).toBe('yy');
  expect(wkdLocation('Joe.Doe@Example.ORG').advanced).toBe('https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe');
  expect(wkdLocation('Joe.Doe@Example.ORG').direct).toBe('https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe');
});

describe('Autocrypt header (Level 1 §2.1)', () => {
  const key = Buffer.from('not really a key but base64').toString('base64');
  const raw = `From: Alice <alice@partner.test>\r\nAutocrypt: addr=alice@partner.test; prefer-encrypt=mutual;\r\n keydata=${key.slice(0, 10)}\r\n ${key.slice(10)}\r\nSubject: hi\r\n\r\nAutocrypt: addr=body@x.test; keydata=AAAA\r\n`;

  it('reads addr, prefer-encrypt and folded keydata from the header section only', () => {
    const values = autocryptHeaderValues(raw);
    expect(values).toHaveLength(1);
    const parsed = parseAutocrypt(values, 'Alice@partner.test');
    expect(parsed.header).toMatchObject({ addr: 'alice@partner.test', preferEncrypt: 'mutual' });
    expect(Buffer.from(parsed.header!.keydata).toString()).toBe('not really a key but base64');
  });

  it.each([
    [[`addr=other@partner.test; keydata=${key}`], /not the From address/],
    [[`addr=alice@partner.test; keydata=${key}; critical=1`], /unknown critical attribute critical/],
    [[`addr=alice@partner.test; prefer-encrypt=mutual`], /no keydata/],
    [[`addr=alice@partner.test; keydata=${key}`, `addr=alice@partner.test; keydata=${key}`], /more than one valid/],
  ])('refuses %j', (values, reason) => {
    const parsed = parseAutocrypt(values, 'alice@partner.test');
    expect(parsed.header).toBeNull();
    expect((parsed as { reason: string }).reason).toMatch(reason);
  });

  it('ignores non-critical attributes and takes anything but mutual as no preference', () => {
    expect(parseAutocrypt([`addr=alice@partner.test; _extra=1; prefer-encrypt=maybe; keydata=${key}`], 'alice@partner.test').header?.preferEncrypt).toBe('nopreference');
  });
});

describe('WKD and keyserver over real HTTPS', () => {
  const temp = tempDir('wkd');
  let dns: DnsServer;
  let server: https.Server;
  let port: number;
  let t: TestStore;
  let keys: E2eKeyStore;
  let discovery: KeyDiscovery;
  let requests: string[] = [];
  const served = new Map<string, Uint8Array | string>();
  let bob: Awaited<ReturnType<typeof publicKey>>;
  let carol: Awaited<ReturnType<typeof publicKey>>;
  let dave: Awaited<ReturnType<typeof publicKey>>;
  let erin: Awaited<ReturnType<typeof publicKey>>;

  beforeAll(async () => {
    const ca = await createTestCa(temp.dir);
    const cert = await ca.issue(['openpgpkey.partner.test', 'direct.test', 'keys.test']);
    server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      const url = `${req.headers.host?.split(':')[0]}${req.url}`;
      requests.push(url);
      const body = served.get(url.split('?')[0]) ?? served.get(url);
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    dns = await startDns({ a: [{ name: 'openpgpkey.partner.test', ip: '127.0.0.1' }, { name: 'direct.test', ip: '127.0.0.1' }, { name: 'keys.test', ip: '127.0.0.1' }] });
    bob = await publicKey('bob@partner.test');
    carol = await publicKey('carol@direct.test');
    dave = await publicKey('dave@elsewhere.test');
    erin = await publicKey('erin@elsewhere.test');
    const impostor = await publicKey('someone@partner.test');
    served.set(`openpgpkey.partner.test${wkdLocation('bob@partner.test').advancedPath}`, bob.binary);
    served.set(`openpgpkey.partner.test${wkdLocation('someone@partner.test').advancedPath}`, (await publicKey('other@partner.test')).binary);
    void impostor;
    served.set(`direct.test${wkdLocation('carol@direct.test').directPath}`, carol.binary);
    served.set(`keys.test/vks/v1/by-email/${encodeURIComponent('erin@elsewhere.test')}`, erin.armored);
    served.set('keys.test/pks/lookup?op=get&options=mr&search=dave%40elsewhere.test', dave.armored);
    t = await openTestStore('sqlite');
    keys = new E2eKeyStore(t.store, createVault(randomBytes(32)));
    const resolver = createSystemResolver({ servers: dns.servers });
    const fetch = createHttpsFetcher({ extraCa: [readFileSync(ca.caCertPath)], resolver, timeoutMs: 10_000 });
    discovery = new KeyDiscovery(t.store, keys, { fetch, resolver }, { wkd: { enabled: true, port }, keyserver: { url: `https://keys.test:${port}`, protocol: 'auto' }, cacheMs: 3600_000, negativeCacheMs: 60_000 });
  }, 120_000);

  afterAll(async () => {
    server?.close();
    await dns?.stop();
    await t?.cleanup();
    temp.cleanup();
  });

  it('finds a key by the advanced method and caches the answer', async () => {
    requests = [];
    const report = await discovery.discover('Bob@partner.test', NOW);
    expect(report.steps.map((s) => [s.source, s.outcome, s.fromCache])).toEqual([['wkd', 'found', false]]);
    expect(report.found.map((k) => [k.fingerprint, k.source])).toEqual([[bob.fingerprint, 'wkd']]);
    expect(requests).toEqual([`openpgpkey.partner.test/.well-known/openpgpkey/partner.test/hu/${wkdLocation('bob@partner.test').hash}?l=bob`]);
    const again = await discovery.discover('bob@partner.test', NOW);
    expect(again.steps[0]).toMatchObject({ outcome: 'found', fromCache: true });
    expect(requests).toHaveLength(1);
    expect((await keys.bestKeyFor('bob@partner.test', 'openpgp', NOW))?.fingerprint).toBe(bob.fingerprint);
  });

  it('uses the direct method when openpgpkey.<domain> does not exist', async () => {
    const report = await discovery.discover('carol@direct.test', NOW);
    expect(report.steps[0]).toMatchObject({ source: 'wkd', outcome: 'found' });
    expect(report.found[0].fingerprint).toBe(carol.fingerprint);
  });

  it('keeps no key that does not name the address, and falls to the keyserver (VKS 404, then HKP)', async () => {
    const wrong = await discovery.discover('someone@partner.test', NOW);
    expect(wrong.found).toEqual([]);
    expect(wrong.steps[0]).toMatchObject({ source: 'wkd', outcome: 'none', detail: expect.stringMatching(/no key naming someone@partner.test/) });
    requests = [];
    const viaHkp = await discovery.discover('dave@elsewhere.test', NOW);
    expect(viaHkp.steps.map((s) => [s.source, s.outcome])).toEqual([['wkd', 'none'], ['keyserver', 'found']]);
    expect(viaHkp.steps[0].detail).toMatch(/no Web Key Directory/);
    expect(requests).toEqual(['keys.test/vks/v1/by-email/dave%40elsewhere.test', 'keys.test/pks/lookup?op=get&options=mr&search=dave%40elsewhere.test']);
    expect(viaHkp.found[0]).toMatchObject({ fingerprint: dave.fingerprint, source: 'keyserver' });
  });

  it('takes a VKS answer without asking HKP', async () => {
    requests = [];
    const report = await discovery.discover('erin@elsewhere.test', NOW);
    expect(report.found[0]).toMatchObject({ fingerprint: erin.fingerprint, source: 'keyserver' });
    expect(requests).toEqual(['keys.test/vks/v1/by-email/erin%40elsewhere.test']);
  });

  it('learns a key from the Autocrypt header of an inbound message; a header with someone else\'s key is none', async () => {
    const fay = await publicKey('fay@mail.test');
    const mallory = await publicKey('mallory@mail.test');
    const message = (key: Uint8Array) => `From: Fay <fay@mail.test>\r\nDate: ${NOW.toUTCString()}\r\nAutocrypt: addr=fay@mail.test; prefer-encrypt=mutual; keydata=\r\n ${Buffer.from(key).toString('base64').replace(/(.{76})/g, '$1\r\n ')}\r\n\r\nHi\r\n`;
    const forged = autocryptObservation(message(mallory.binary), 'fay@mail.test', NOW.getTime() - 1000);
    await keys.observeAutocrypt(forged, NOW);
    expect(await keys.bestKeyFor('fay@mail.test', 'openpgp', NOW)).toBeUndefined();
    const seen = autocryptObservation(message(fay.binary), 'Fay@mail.test', NOW.getTime());
    expect(seen.header?.preferEncrypt).toBe('mutual');
    await keys.observeAutocrypt(seen, NOW);
    expect(await keys.bestKeyFor('fay@mail.test', 'openpgp', NOW)).toMatchObject({ source: 'autocrypt', fingerprint: fay.fingerprint });
    expect(await keys.autocryptRecommendation('fay@mail.test')).toBe('encrypt');
  });

  it('refuses a server whose certificate is not from a trusted CA', async () => {
    const bare = createHttpsFetcher({ resolver: createSystemResolver({ servers: dns.servers }) });
    await expect(bare(`https://openpgpkey.partner.test:${port}/`)).rejects.toThrow(/certificate/);
  });
});
