/** Where a recipient's copy goes. Pure: a function of the recipient and the configuration. */
export type Route = { kind: 'mx' } | { kind: 'smarthost'; host: string; port: number };

export interface RoutingTable {
  /** Local domains (inbound role) and the mailbox server each is relayed to. */
  domains: Record<string, { smarthost: string }>;
}

export function routeFor(domain: string, table: RoutingTable): Route {
  const entry = table.domains[domain.toLowerCase()];
  if (!entry) return { kind: 'mx' };
  const at = entry.smarthost.lastIndexOf(':');
  return { kind: 'smarthost', host: entry.smarthost.slice(0, at), port: Number(entry.smarthost.slice(at + 1)) };
}
