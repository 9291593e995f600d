import { MailError } from '../kernel/index.ts';
import { DnsError, type MxRecord, type Resolver } from '../dns/index.ts';

export interface Destination {
  host: string;
  priority: number;
  addresses: string[];
}

async function addressesOf(name: string, resolver: Resolver, families: (4 | 6)[]): Promise<string[]> {
  const lookups = await Promise.allSettled(families.map((f) => (f === 4 ? resolver.resolve4(name) : resolver.resolve6(name))));
  const found = lookups.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  if (found.length) return found;
  const transient = lookups.find((r) => r.status === 'rejected' && (r.reason as DnsError).kind === 'transient');
  if (transient) throw (transient as PromiseRejectedResult).reason;
  return [];
}

function shuffle<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * Where mail for a domain goes (RFC 5321 §5.1): MX hosts by preference, equal preferences in
 * random order, the domain itself when it has no MX (implicit MX), nothing for a null MX
 * (RFC 7505). Errors are MailErrors with the right permanence.
 */
export async function resolveDestinations(domain: string, resolver: Resolver, options: { families?: (4 | 6)[]; rng?: () => number } = {}): Promise<Destination[]> {
  const families = options.families ?? [4, 6];
  const rng = options.rng ?? Math.random;
  let records: MxRecord[];
  try {
    records = await resolver.resolveMx(domain);
  } catch (error) {
    if (!(error instanceof DnsError)) throw error;
    if (error.kind === 'nxdomain') throw new MailError(550, '5.1.2', `Recipient domain ${domain} does not exist`, 'delivery');
    if (error.kind === 'transient') throw new MailError(451, '4.4.3', `DNS lookup for ${domain} failed (${error.code}); will retry`, 'delivery');
    records = [];
  }
  if (records.length === 1 && (records[0].exchange === '' || records[0].exchange === '.')) {
    throw new MailError(556, '5.1.10', `Recipient domain ${domain} does not accept mail (null MX, RFC 7505)`, 'delivery');
  }
  if (records.length === 0) {
    try {
      const addresses = await addressesOf(domain, resolver, families);
      if (addresses.length === 0) throw new MailError(550, '5.1.2', `Recipient domain ${domain} has no MX and no address`, 'delivery');
      return [{ host: domain, priority: 0, addresses }];
    } catch (error) {
      if (error instanceof MailError) throw error;
      throw new MailError(451, '4.4.3', `DNS lookup for ${domain} failed; will retry`, 'delivery');
    }
  }
  const byPriority = new Map<number, string[]>();
  for (const record of records) {
    if (!record.exchange || record.exchange === '.') continue;
    byPriority.set(record.priority, [...(byPriority.get(record.priority) ?? []), record.exchange.replace(/\.$/, '').toLowerCase()]);
  }
  const ordered = [...byPriority.keys()].sort((a, b) => a - b).flatMap((p) => shuffle(byPriority.get(p)!, rng).map((host) => ({ host, priority: p })));
  const destinations: Destination[] = [];
  let transient = false;
  for (const { host, priority } of ordered) {
    try {
      destinations.push({ host, priority, addresses: await addressesOf(host, resolver, families) });
    } catch {
      transient = true;
      destinations.push({ host, priority, addresses: [] });
    }
  }
  if (destinations.every((d) => d.addresses.length === 0)) {
    if (transient) throw new MailError(451, '4.4.3', `Could not resolve any MX host of ${domain}; will retry`, 'delivery');
    throw new MailError(451, '4.4.4', `No MX host of ${domain} has an address; will retry`, 'delivery');
  }
  return destinations;
}
