import { canonicalDomain } from '../mail/index.ts';

/** Where a recipient's copy goes. Pure: a function of the recipient and the configuration. */
export type Route = { kind: 'mx' } | { kind: 'smarthost'; host: string; port: number };

export interface RoutingTable {
  /** Local domains (inbound role) and the mailbox server each is relayed to. */
  domains: Record<string, { smarthost: string }>;
}

export function routeFor(domain: string, table: RoutingTable): Route {
  // The recipient check knows `bob@\uff4cocal.test` as ours (A-labels); routing must agree, or a
  // stranger's message to our domain leaves by its public MX. Own keys only (no `__proto__`).
  const key = canonicalDomain(domain);
  const entry = Object.hasOwn(table.domains, key) ? table.domains[key] : undefined;
  if (!entry) return { kind: 'mx' };
  const at = entry.smarthost.lastIndexOf(':');
  return { kind: 'smarthost', host: entry.smarthost.slice(0, at), port: Number(entry.smarthost.slice(at + 1)) };
}
