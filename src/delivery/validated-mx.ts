import { MailError } from '../kernel/index.ts';
import { DnsError, type MxRecord, type Resolver, type SecureResolver } from '../dns/index.ts';
import { resolveDestinations, type Destination } from './mx.ts';

/**
 * Where a domain's mail goes, and how much of that the validating resolver vouched for.
 * `mxSecure`: the MX RRset (or, without MX, the domain's own address) validated under DNSSEC,
 * the precondition of DANE (RFC 7672 §2.2.1). `bogus`: validation failed (SERVFAIL), so the
 * domain is deferred (RFC 7672 §2.1.1). `disagreement`: the plain resolver named a host or an
 * address the validated answer does not — someone is lying to one of them, so we defer.
 */
export interface ResolvedDomain {
  destinations: Destination[];
  mxSecure: boolean;
  bogus?: string;
  disagreement?: string;
}

function mxKey(records: MxRecord[]): string {
  return records
    .map((r) => `${r.priority} ${r.exchange.replace(/\.$/, '').toLowerCase()}`)
    .sort()
    .join(', ');
}

async function plainMx(domain: string, plain: Resolver): Promise<MxRecord[] | null> {
  try {
    return await plain.resolveMx(domain);
  } catch (error) {
    if (error instanceof DnsError && error.kind !== 'transient') return [];
    // The plain resolver is down: nothing to compare with; the validated answer stands alone.
    return null;
  }
}

async function plainAddresses(host: string, plain: Resolver, families: (4 | 6)[]): Promise<string[] | null> {
  const lookups = await Promise.allSettled(families.map((f) => (f === 4 ? plain.resolve4(host) : plain.resolve6(host))));
  if (lookups.some((l) => l.status === 'rejected' && (l.reason as DnsError).kind === 'transient')) return null;
  return lookups.flatMap((l) => (l.status === 'fulfilled' ? l.value : []));
}

/** A resolver that answers only from the validating resolver (secure or not, never the plain one). */
function fromValidating(secure: SecureResolver, nodataMx: boolean): Resolver {
  const records = async <T extends 'A' | 'AAAA'>(name: string, type: T): Promise<string[]> => {
    const answer = await secure.query(name, type);
    if (answer.rcode === 'NXDOMAIN') throw new DnsError('nxdomain', 'ENOTFOUND', `${name} does not exist (NXDOMAIN)`);
    if (answer.rcode !== 'NOERROR') throw new DnsError('transient', answer.rcode, `DNS lookup of ${type} ${name} failed: ${answer.rcode}`);
    if (answer.records.length === 0) throw new DnsError('nodata', 'ENODATA', `${name} has no ${type} record`);
    return answer.records as string[];
  };
  return {
    resolveMx: async (name) => {
      if (nodataMx) throw new DnsError('nodata', 'ENODATA', `${name} has no MX record`);
      const answer = await secure.query(name, 'MX');
      return answer.records;
    },
    resolve4: (name) => records(name, 'A'),
    resolve6: (name) => records(name, 'AAAA'),
    resolveTxt: () => Promise.reject(new DnsError('transient', 'ENOTIMP', 'TXT is not used for routing')),
  };
}

/**
 * RFC 7672 §2.2.1: when the MX RRset validates, the MX hosts, their addresses and (in the
 * assessor) their TLSA records come from the validating resolver only; the plain resolver is
 * asked too, and any host or address it adds is a disagreement that defers the domain. An
 * unsigned domain keeps the plain resolver (it is the operator's choice there, and DANE does
 * not apply). Without a validating resolver this is `resolveDestinations` over the plain one.
 */
export async function resolveValidated(domain: string, plain: Resolver, secure: SecureResolver | undefined, options: { families?: (4 | 6)[]; rng?: () => number } = {}): Promise<ResolvedDomain> {
  const families = options.families ?? [4, 6];
  if (!secure) return { destinations: await resolveDestinations(domain, plain, options), mxSecure: false };
  let mx;
  try {
    mx = await secure.query(domain, 'MX');
  } catch (error) {
    if (error instanceof DnsError) throw new MailError(451, '4.4.3', `The validating resolver did not answer for ${domain} (${error.code}); will retry`, 'delivery');
    throw error;
  }
  if (mx.rcode === 'SERVFAIL') return { destinations: [], mxSecure: false, bogus: `the MX records of ${domain} failed DNSSEC validation (SERVFAIL from the validating resolver)` };
  if (!mx.secure) return { destinations: await resolveDestinations(domain, plain, options), mxSecure: false };
  if (mx.rcode === 'NXDOMAIN') throw new MailError(550, '5.1.2', `Recipient domain ${domain} does not exist (DNSSEC-validated)`, 'delivery');

  // Validated: an implicit MX (no MX records) is the domain's own address, which must validate too.
  const implicit = mx.records.length === 0;
  if (implicit) {
    const address = await secure.query(domain, 'A');
    if (address.rcode === 'SERVFAIL') return { destinations: [], mxSecure: false, bogus: `the address of ${domain} failed DNSSEC validation` };
    if (!address.secure) return { destinations: await resolveDestinations(domain, plain, options), mxSecure: false };
  }
  const [destinations, told] = await Promise.all([resolveDestinations(domain, fromValidating(secure, implicit), options), plainMx(domain, plain)]);
  if (told !== null && mxKey(told) !== mxKey(mx.records)) {
    return { destinations: [], mxSecure: true, disagreement: `the plain resolver says MX ${mxKey(told) || '(none)'} for ${domain}, the DNSSEC-validated answer says ${mxKey(mx.records) || '(none)'}` };
  }
  for (const destination of destinations) {
    const addresses = await plainAddresses(destination.host, plain, families);
    const foreign = addresses?.filter((a) => !destination.addresses.includes(a)) ?? [];
    if (foreign.length) {
      return { destinations: [], mxSecure: true, disagreement: `the plain resolver says ${destination.host} is at ${foreign.join(' ')}, which the validating resolver does not (${destination.addresses.join(' ') || 'none'})` };
    }
  }
  return { destinations, mxSecure: true };
}
