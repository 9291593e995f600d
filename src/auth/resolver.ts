import type { Resolver } from '../dns/index.ts';

/** mailauth's resolver: `(name, rrtype)` answering as node:dns `resolve` does. */
export type AuthResolver = (name: string, rrtype: string) => Promise<never>;

/**
 * Adapts our injected Resolver to mailauth. Failures pass through with their node:dns code
 * (DnsError keeps it): ENOTFOUND / ENODATA are "no record", anything else mailauth reports as
 * temperror, never as a pass. PTR and CNAME go to the Resolver's optional methods; one without
 * them answers as having no record: SPF's `ptr` then does not match (RFC 7208 §5.5 discourages
 * it anyway), and the DMARC existence test keeps the answer of the A lookup it made first.
 */
export function authResolver(resolver: Resolver): AuthResolver {
  return (async (name: string, rrtype: string) => {
    const host = name.replace(/\.$/, '');
    switch (rrtype.toUpperCase()) {
      case 'TXT':
        return resolver.resolveTxt(host);
      case 'A':
        return resolver.resolve4(host);
      case 'AAAA':
        return resolver.resolve6(host);
      case 'MX':
        return resolver.resolveMx(host);
      case 'PTR':
        if (resolver.resolvePtr) return resolver.resolvePtr(host);
        break;
      case 'CNAME':
        if (resolver.resolveCname) return resolver.resolveCname(host);
        break;
    }
    throw Object.assign(new Error(`${host} has no ${rrtype} record (not looked up)`), { code: 'ENODATA' });
  }) as AuthResolver;
}
