import { describe, expect, it } from 'vitest';
import type { SecureAnswer, SecureRecordType, SecureResolver } from '../dns/index.ts';
import type { MtaStsCache, MtaStsLookup } from '../linksec/index.ts';
import { silentLogger } from '../../test/helpers/silent-logger.ts';
import { SecurityAssessor } from './security.ts';

type Zone = Record<string, Partial<SecureAnswer>>;

function resolverOf(zone: Zone): SecureResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async query<T extends SecureRecordType>(name: string, type: T): Promise<SecureAnswer<T>> {
      asked.push(`${type} ${name}`);
      const answer = zone[`${type} ${name}`] ?? { rcode: 'NXDOMAIN', secure: true };
      return { rcode: 'NOERROR', secure: false, records: [], cnames: [], ...answer } as SecureAnswer<T>;
    },
  };
}

const tlsa = (usage: number) => ({ usage, selector: 1, matchingType: 1, data: Buffer.alloc(32, 7) });
const stsOf = (lookup: MtaStsLookup) => ({ lookup: async () => lookup }) as unknown as MtaStsCache;
const policy = (mode: 'enforce' | 'testing', mx: string[]) => ({ kind: 'policy', source: 'cache', policy: { id: '1', mode, mx, maxAge: 86400, fetchedAt: 0, expiresAt: 1e15 } }) as MtaStsLookup;

describe('SecurityAssessor', () => {
  it('uses DANE only under a validated MX RRset with usable TLSA records', async () => {
    const secure = resolverOf({
      'MX d.test': { secure: true, records: [{ exchange: 'mx.d.test', priority: 10 }] },
      'TLSA _25._tcp.mx.d.test': { secure: true, records: [tlsa(3)] },
      'TLSA _25._tcp.pkix.d.test': { secure: true, records: [tlsa(1)] },
    } as Zone);
    const assessment = await new SecurityAssessor({ secure, logger: silentLogger }).assess('d.test', ['mx.d.test', 'pkix.d.test', 'none.d.test']);
    expect(assessment.mxSecure).toBe(true);
    expect(assessment.hosts.get('mx.d.test')).toMatchObject({ security: { kind: 'dane' }, tlsaText: [`3 1 1 ${'07'.repeat(32)}`] });
    expect(assessment.hosts.get('pkix.d.test')?.security.kind).toBe('dane-unusable');
    expect(assessment.hosts.get('none.d.test')?.security.kind).toBe('none');
  });

  it('ignores TLSA records when the MX RRset is not signed (RFC 7672 §2.2.1)', async () => {
    const secure = resolverOf({
      'MX d.test': { secure: false, records: [{ exchange: 'mx.d.test', priority: 10 }] },
      'TLSA _25._tcp.mx.d.test': { secure: true, records: [tlsa(3)] },
    } as Zone);
    const assessment = await new SecurityAssessor({ secure, logger: silentLogger }).assess('d.test', ['mx.d.test']);
    expect(assessment.hosts.get('mx.d.test')?.security.kind).toBe('none');
    expect(secure.asked).not.toContain('TLSA _25._tcp.mx.d.test');
  });

  it('defers on DNSSEC-bogus answers: the MX RRset for the domain, TLSA for one host', async () => {
    const bogusMx = await new SecurityAssessor({ secure: resolverOf({ 'MX d.test': { rcode: 'SERVFAIL' } } as Zone), logger: silentLogger }).assess('d.test', ['mx.d.test']);
    expect(bogusMx.bogus).toMatch(/failed DNSSEC validation/);
    const bogusTlsa = await new SecurityAssessor({
      secure: resolverOf({ 'MX d.test': { secure: true, records: [{ exchange: 'mx.d.test', priority: 10 }] }, 'TLSA _25._tcp.mx.d.test': { rcode: 'SERVFAIL' } } as Zone),
      logger: silentLogger,
    }).assess('d.test', ['mx.d.test']);
    expect(bogusTlsa.hosts.get('mx.d.test')?.unusable).toMatchObject({ temporary: true, reason: expect.stringMatching(/TLSA records of mx\.d\.test failed DNSSEC/) });
  });

  it('applies MTA-STS to listed hosts, refuses unlisted ones under enforce, and lets DANE win', async () => {
    const enforce = await new SecurityAssessor({ mtaSts: stsOf(policy('enforce', ['*.d.test'])), logger: silentLogger }).assess('d.test', ['mx.d.test', 'mx.elsewhere.test']);
    expect(enforce.hosts.get('mx.d.test')?.security).toEqual({ kind: 'sts', mode: 'enforce' });
    expect(enforce.hosts.get('mx.elsewhere.test')?.unusable?.reason).toMatch(/not listed in the MTA-STS policy/);
    const testing = await new SecurityAssessor({ mtaSts: stsOf(policy('testing', ['mx.d.test'])), logger: silentLogger }).assess('d.test', ['mx.elsewhere.test']);
    expect(testing.hosts.get('mx.elsewhere.test')).toEqual({ security: { kind: 'none' } });
    const both = await new SecurityAssessor({
      secure: resolverOf({ 'MX d.test': { secure: true, records: [{ exchange: 'mx.d.test', priority: 10 }] }, 'TLSA _25._tcp.mx.d.test': { secure: true, records: [tlsa(3)] } } as Zone),
      mtaSts: stsOf(policy('enforce', ['mx.d.test'])),
      logger: silentLogger,
    }).assess('d.test', ['mx.d.test']);
    expect(both.hosts.get('mx.d.test')?.security.kind).toBe('dane');
  });

  it('reuses an assessment for a while instead of asking DNS per message', async () => {
    let now = 0;
    const secure = resolverOf({ 'MX d.test': { secure: false, records: [{ exchange: 'mx.d.test', priority: 10 }] } } as Zone);
    const assessor = new SecurityAssessor({ secure, logger: silentLogger, cacheMs: 1000, now: () => now });
    await assessor.assess('d.test', ['mx.d.test']);
    await assessor.assess('D.test', ['mx.d.test']);
    expect(secure.asked.filter((q) => q === 'MX d.test')).toHaveLength(1);
    now = 2000;
    await assessor.assess('d.test', ['mx.d.test']);
    expect(secure.asked.filter((q) => q === 'MX d.test')).toHaveLength(2);
  });
});
