import type { Resolver } from '../dns/index.ts';
import { ExpiringMap } from '../kernel/index.ts';

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
  let answers = caches.get(resolver);
  if (!answers) caches.set(resolver, (answers = new ExpiringMap(MAX_ANSWERS, ANSWER_CACHE_MS)));
  const cache = answers;
  const lookup = uncachedLookup(resolver);
  return (async (name: string, rrtype: string) => {
    const key = `${rrtype.toUpperCase()} ${name.toLowerCase().replace(/\.$/, '')}`;
    const hit = cache.get(key);
    if (hit) {
      if (hit.error) throw hit.error;
      return hit.answer as never;
    }
    try {
      const answer = await lookup(name, rrtype);
      cache.set(key, { answer });
      return answer;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // "No such record" is an answer too; a timeout or SERVFAIL is not kept (temperror stays temporary).
      if (code === 'ENOTFOUND' || code === 'ENODATA') cache.set(key, { error });
      throw error;
    }
  }) as AuthResolver;
}

/**
 * How long an answer for mail authentication is reused. Every message from a sender asked
 * the same three to six names (SPF, its includes, the DKIM key, DMARC and its organisational
 * domain) again: a UDP round trip each, ~0.7 ms of the event loop per message in the
 * relay_dkim bench (issue 12). node:dns gives no TTL for TXT, so a short fixed time: a
 * domain's change of record reaches us at most a minute late.
 */
const ANSWER_CACHE_MS = 60_000;
const MAX_ANSWERS = 10_000;
type CachedAnswer = { answer?: unknown; error?: unknown };
const caches = new WeakMap<Resolver, ExpiringMap<string, CachedAnswer>>();

function uncachedLookup(resolver: Resolver): AuthResolver {
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
