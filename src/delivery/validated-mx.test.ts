import { describe, expect, it } from 'vitest';
import { DnsError, type Resolver, type SecureAnswer, type SecureRecordType, type SecureResolver } from '../dns/index.ts';
import { resolveValidated } from './validated-mx.ts';

type Zone = Record<string, Partial<SecureAnswer>>;

function validating(zone: Zone): SecureResolver {
  return {
    async query<T extends SecureRecordType>(name: string, type: T): Promise<SecureAnswer<T>> {
      const answer = zone[`${type} ${name}`] ?? { rcode: 'NOERROR', secure: true };
      return { rcode: 'NOERROR', secure: false, records: [], cnames: [], ...answer } as SecureAnswer<T>;
    },
  };
}

function plain(mx: Record<string, { exchange: string; priority: number }[]>, a: Record<string, string[]>): Resolver {
  const nodata = (name: string) => new DnsError('nodata', 'ENODATA', `${name}: no data`);
  return {
    resolveMx: async (name) => mx[name] ?? Promise.reject(nodata(name)),
    resolve4: async (name) => a[name] ?? Promise.reject(nodata(name)),
    resolve6: async (name) => Promise.reject(nodata(name)),
    resolveTxt: async (name) => Promise.reject(nodata(name)),
  };
}

const signed: Zone = {
  'MX d.test': { secure: true, records: [{ exchange: 'mx.d.test', priority: 10 }] },
  'A mx.d.test': { secure: true, records: ['192.0.2.10'] },
};

describe('resolveValidated', () => {
  it('takes hosts and addresses from the validating resolver when the MX RRset validates', async () => {
    const resolved = await resolveValidated('d.test', plain({ 'd.test': [{ exchange: 'mx.d.test', priority: 10 }] }, { 'mx.d.test': ['192.0.2.10'] }), validating(signed), { families: [4] });
    expect(resolved).toEqual({ mxSecure: true, destinations: [{ host: 'mx.d.test', priority: 10, addresses: ['192.0.2.10'] }] });
  });

  it('defers on a host or an address only the plain resolver names', async () => {
    const spoofedMx = await resolveValidated('d.test', plain({ 'd.test': [{ exchange: 'mx.evil.test', priority: 10 }] }, { 'mx.evil.test': ['192.0.2.66'] }), validating(signed), { families: [4] });
    expect(spoofedMx.destinations).toEqual([]);
    expect(spoofedMx.disagreement).toMatch(/plain resolver says MX 10 mx\.evil\.test for d\.test, the DNSSEC-validated answer says 10 mx\.d\.test/);
    const spoofedA = await resolveValidated('d.test', plain({ 'd.test': [{ exchange: 'mx.d.test', priority: 10 }] }, { 'mx.d.test': ['192.0.2.66'] }), validating(signed), { families: [4] });
    expect(spoofedA.disagreement).toMatch(/mx\.d\.test is at 192\.0\.2\.66/);
  });

  it('uses the validated answer alone when the plain resolver fails', async () => {
    const down: Resolver = { ...plain({}, {}), resolveMx: async () => Promise.reject(new DnsError('transient', 'ETIMEOUT', 'down')), resolve4: async () => Promise.reject(new DnsError('transient', 'ETIMEOUT', 'down')) };
    expect((await resolveValidated('d.test', down, validating(signed), { families: [4] })).destinations[0].addresses).toEqual(['192.0.2.10']);
  });

  it('keeps the plain resolver for an unsigned domain and reports a bogus one', async () => {
    const unsigned = await resolveValidated('u.test', plain({ 'u.test': [{ exchange: 'mx.u.test', priority: 5 }] }, { 'mx.u.test': ['192.0.2.5'] }), validating({ 'MX u.test': { secure: false, records: [{ exchange: 'other.u.test', priority: 5 }] } }), { families: [4] });
    expect(unsigned).toEqual({ mxSecure: false, destinations: [{ host: 'mx.u.test', priority: 5, addresses: ['192.0.2.5'] }] });
    const bogus = await resolveValidated('b.test', plain({}, {}), validating({ 'MX b.test': { rcode: 'SERVFAIL' } }), { families: [4] });
    expect(bogus.bogus).toMatch(/failed DNSSEC validation/);
  });

  it('validates an implicit MX: the domain address, and no MX on the plain side either', async () => {
    const zone: Zone = { 'MX i.test': { secure: true, records: [] }, 'A i.test': { secure: true, records: ['192.0.2.7'] } };
    expect(await resolveValidated('i.test', plain({}, { 'i.test': ['192.0.2.7'] }), validating(zone), { families: [4] })).toEqual({ mxSecure: true, destinations: [{ host: 'i.test', priority: 0, addresses: ['192.0.2.7'] }] });
    const added = await resolveValidated('i.test', plain({ 'i.test': [{ exchange: 'mx.evil.test', priority: 1 }] }, {}), validating(zone), { families: [4] });
    expect(added.disagreement).toMatch(/MX 1 mx\.evil\.test/);
  });
});
