import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsError, type Resolver } from '../dns/index.ts';
import { createVault } from '../vault/index.ts';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { silentLogger } from '../../test/helpers/silent-logger.ts';
import { analysisJson, analyzeMessage, DkimKeys, dnsRecordOf, recheckSignatures, signedBody, verifyInbound, type DkimKey } from './index.ts';

/** An in-memory zone: names to TXT strings / A addresses; anything else is NXDOMAIN, `fail` names time out. */
function zone(txt: Record<string, string[]>, a: Record<string, string[]> = {}, fail: string[] = []): Resolver {
  const miss = (name: string, type: string) => {
    if (fail.includes(name)) return new DnsError('transient', 'ETIMEOUT', `${type} ${name} timed out`);
    return new DnsError('nxdomain', 'ENOTFOUND', `${name} does not exist`);
  };
  return {
    resolveTxt: async (name) => {
      if (txt[name.toLowerCase()]) return txt[name.toLowerCase()].map((t) => [t]);
      throw miss(name, 'TXT');
    },
    resolve4: async (name) => {
      if (a[name.toLowerCase()]) return a[name.toLowerCase()];
      throw miss(name, 'A');
    },
    resolve6: async (name) => {
      throw miss(name, 'AAAA');
    },
    resolveMx: async (name) => {
      throw miss(name, 'MX');
    },
  };
}

const message = (from: string) =>
  Buffer.from(`From: Alice <alice@${from}>\r\nTo: bob@corp.test\r\nSubject: hello\r\nDate: Wed, 02 Dec 2026 12:00:00 +0000\r\nMessage-ID: <1@${from}>\r\n\r\nHello Bob.\r\n`);

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const logger = silentLogger;
const verifyWith = (resolver: Resolver, raw: Buffer, ip = '192.0.2.10', enforce = true) =>
  verifyInbound(raw, { ip, helo: 'mail.sender.test', mailFrom: 'alice@sender.test' }, ['bob@corp.test'], { hostname: 'mx.corp.test', resolver, enforceFor: () => enforce, logger });

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe.skipIf(dialect === 'postgres' && !(await hasPostgres()))(`DKIM keys on ${dialect}`, () => {
    let t: TestStore;
    afterEach(async () => t?.cleanup());

    it('makes an Ed25519 and an RSA key sealed, keeps them, rotates them', async () => {
      t = await openTestStore(dialect);
      const keys = new DkimKeys(t.store, createVault(randomBytes(32)));
      const first = await keys.ensure('Sender.test', 1_000_000);
      expect(first.created).toBe(true);
      expect(first.keys.map((k) => k.algorithm).sort()).toEqual(['ed25519', 'rsa']);
      const row = await t.store.db.selectFrom('dkim_keys').selectAll().where('algorithm', '=', 'rsa').executeTakeFirstOrThrow();
      expect(Buffer.from(row.private_sealed).toString('latin1')).not.toContain('PRIVATE KEY');
      expect((await keys.ensure('sender.test', 2_000_000)).created).toBe(false);
      const rotated = await keys.ensure('sender.test', 3_000_000, true);
      expect(rotated.created).toBe(true);
      const current = await keys.current('sender.test');
      expect(current.map((k) => k.selector).sort()).toEqual(rotated.keys.map((k) => k.selector).sort());
      expect((await keys.list('sender.test')).filter((k) => k.retiredAt === 3_000_000)).toHaveLength(2);
    });
  });
}

describe('signing and verifying', () => {
  let t: TestStore;
  afterEach(async () => t?.cleanup());

  async function signedBy(domain: string): Promise<{ raw: Buffer; keys: DkimKey[] }> {
    t = await openTestStore('sqlite');
    const { keys } = await new DkimKeys(t.store, createVault(randomBytes(32))).ensure(domain, Date.now());
    // In pieces that split the header block: the signer reads the head, then the rest.
    const whole = message(domain);
    const raw = await read(await signedBody(Readable.from([whole.subarray(0, 20), whole.subarray(20, 90), whole.subarray(90)]), { keysFor: async (d) => (d === domain ? keys : []), logger, now: () => Date.now() }));
    return { raw, keys };
  }

  const records = (keys: DkimKey[]) => Object.fromEntries(keys.map((k) => [`${k.selector}._domainkey.${k.domain}`, [dnsRecordOf(k)]]));

  it('dual-signs, and both signatures verify; DMARC passes aligned', async () => {
    const { raw, keys } = await signedBy('sender.test');
    expect(raw.toString().match(/^DKIM-Signature:/gm)).toHaveLength(2);
    const verdict = await verifyWith(zone({ ...records(keys), '_dmarc.sender.test': ['v=DMARC1; p=reject'] }), raw);
    expect(verdict.headers).toMatch(/^Authentication-Results: mx\.corp\.test;/m);
    expect(verdict.headers).toMatch(/dkim=pass[^;]*a=ed25519-sha256/);
    expect(verdict.headers).toMatch(/dkim=pass[^;]*a=rsa-sha256/);
    expect(verdict).toMatchObject({ dkim: 'pass', dmarc: 'pass', action: 'accept' });
  });

  it('a body changed after signing is dkim=fail for each signature, not neutral (RFC 6376 6.1.3, RFC 8601 2.7.1)', async () => {
    const { raw, keys } = await signedBy('sender.test');
    const changed = Buffer.from(raw.toString('latin1').replace('Hello Bob.', 'Hello Bob!'), 'latin1');
    const verdict = await verifyWith(zone({ ...records(keys), '_dmarc.sender.test': ['v=DMARC1; p=none'] }), changed);
    const dkim = verdict.headers.match(/^ dkim=[^;]*/gm) ?? [];
    expect(dkim.map((d) => d.replace(/ header\.b=\S+/, '')).sort()).toEqual([
      ' dkim=fail (body hash did not verify) header.i=@sender.test header.s=' + keys.find((k) => k.algorithm === 'ed25519')!.selector + ' header.a=ed25519-sha256',
      ' dkim=fail (body hash did not verify) header.i=@sender.test header.s=' + keys.find((k) => k.algorithm === 'rsa')!.selector + ' header.a=rsa-sha256',
    ]);
    expect(verdict).toMatchObject({ dkim: 'fail', dmarc: 'fail' });
  });

  it('a message whose From: domain has no keys goes out byte for byte', async () => {
    const whole = message('sender.test');
    const asked: string[] = [];
    const plain = await read(await signedBody(Readable.from([whole.subarray(0, 30), whole.subarray(30, 100), whole.subarray(100)]), { keysFor: async (d) => (asked.push(d), []), logger, now: () => Date.now() }));
    expect(plain.equals(whole)).toBe(true);
    expect(asked).toEqual(['sender.test']);
  });

  it('forged From: under p=reject is rejected, under p=quarantine flagged, under report-only recorded', async () => {
    const spf = { 'sender.test': ['v=spf1 ip4:198.51.100.1 -all'] };
    const reject = await verifyWith(zone({ ...spf, '_dmarc.sender.test': ['v=DMARC1; p=reject'] }), message('sender.test'));
    expect(reject).toMatchObject({ spf: 'fail', dmarc: 'fail', action: 'reject' });
    const quarantine = await verifyWith(zone({ ...spf, '_dmarc.sender.test': ['v=DMARC1; p=quarantine'] }), message('sender.test'));
    expect(quarantine.action).toBe('quarantine');
    expect(quarantine.headers).toMatch(/^Sealgate-Quarantine: yes; DMARC fail/m);
    const report = await verifyWith(zone({ ...spf, '_dmarc.sender.test': ['v=DMARC1; p=reject'] }), message('sender.test'), '192.0.2.10', false);
    expect(report).toMatchObject({ dmarc: 'fail', action: 'accept' });
  });

  it('a second From: (or a second author domain) cannot carry a p=reject domain past the check', async () => {
    const zoneData = zone({ 'sender.test': ['v=spf1 ip4:198.51.100.1 -all'], '_dmarc.sender.test': ['v=DMARC1; p=reject'] });
    const twoFields = Buffer.from(`From: ceo@sender.test\r\nFrom: x@attacker.test\r\nTo: bob@corp.test\r\nSubject: pay\r\n\r\nnow\r\n`);
    expect(await verifyWith(zoneData, twoFields)).toMatchObject({ action: 'reject', dmarc: 'permerror' });
    const twoAuthors = Buffer.from(`From: ceo@sender.test, x@attacker.test\r\nTo: bob@corp.test\r\nSubject: pay\r\n\r\nnow\r\n`);
    expect(await verifyWith(zoneData, twoAuthors)).toMatchObject({ action: 'reject', dmarc: 'permerror' });
    expect((await verifyWith(zoneData, twoAuthors, '192.0.2.10', false)).action).toBe('accept');
  });

  it('SPF pass from the listed address aligns DMARC without DKIM', async () => {
    const verdict = await verifyWith(zone({ 'sender.test': ['v=spf1 ip4:192.0.2.10 -all'], '_dmarc.sender.test': ['v=DMARC1; p=reject'] }), message('sender.test'));
    expect(verdict).toMatchObject({ spf: 'pass', dmarc: 'pass', action: 'accept' });
  });

  it('sealgate analyze checks DKIM and ARC again: both pass as relayed, both fail once the body changed', async () => {
    const { raw, keys } = await signedBy('sender.test');
    const rsa = keys.find((k) => k.algorithm === 'rsa')!;
    const dns = zone({ ...records(keys), '_dmarc.sender.test': ['v=DMARC1; p=reject'] });
    const sealed = await verifyInbound(raw, { ip: '192.0.2.10', helo: 'mail.sender.test', mailFrom: 'alice@sender.test' }, ['bob@corp.test'], {
      hostname: 'mx.corp.test', resolver: dns, enforceFor: () => true, logger, arcSealKey: async () => ({ domain: rsa.domain, selector: rsa.selector, privateKeyPem: rsa.privateKeyPem }),
    });
    const relayed = Buffer.concat([Buffer.from(sealed.headers), raw]);
    const again = await recheckSignatures(relayed, dns);
    expect(again.dkim.map((d) => [d.domain, d.result])).toEqual([['sender.test', 'pass'], ['sender.test', 'pass']]);
    expect(again.arc).toMatchObject({ result: 'pass', instance: 1 });
    const changed = Buffer.from(relayed.toString('latin1').replace('Hello Bob.', 'Hello Bob!'), 'latin1');
    const broken = await recheckSignatures(changed, dns);
    expect(broken.dkim.map((d) => [d.result, d.comment])).toEqual([['fail', 'body hash did not verify'], ['fail', 'body hash did not verify']]);
    expect(broken.arc.result).toBe('fail');
    // The analysis reports what mx.corp.test recorded, and its JSON names hops oldest first.
    const analysis = await analyzeMessage(relayed, dns);
    expect(analysis.recorded[0]).toMatchObject({ authservId: 'mx.corp.test' });
    expect(analysis.recorded[0].results.map((r) => `${r.method}=${r.result}`)).toEqual(expect.arrayContaining(['dkim=pass', 'dmarc=pass']));
    expect(analysisJson(analysis)).toMatchObject({ hops: [], verdict: 'not-knowable', arc: { result: 'pass' } });
    // A pasted message with a flood of signatures does not make the gateway look up each one.
    let lookups = 0;
    const counting = { ...dns, resolveTxt: async (name: string) => (lookups++, dns.resolveTxt(name)) };
    const flood = Buffer.concat([Buffer.from(raw.toString('latin1').match(/^DKIM-Signature:.*(\r\n[ \t].*)*\r\n/m)![0].repeat(20), 'latin1'), raw]);
    const refused = await analyzeMessage(flood, counting);
    expect(refused).toMatchObject({ signatures: null, recheckError: expect.stringContaining('22 DKIM/ARC signatures') });
    expect(lookups).toBe(0);
  });

  it('a DNS failure is temperror, never a pass, and never a reject', async () => {
    const verdict = await verifyWith(zone({}, {}, ['sender.test', '_dmarc.sender.test']), message('sender.test'));
    expect(verdict.spf).toBe('temperror');
    expect(verdict.dmarc).toBe('temperror');
    expect(verdict.action).toBe('accept');
    expect(verdict.headers).toMatch(/spf=temperror/);
  });
});
