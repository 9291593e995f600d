import type { LinkRequirement, TlsPolicyMode } from '../kernel/index.ts';

const STRENGTH: Record<TlsPolicyMode, number> = { opportunistic: 0, required: 1, verified: 2 };
const FOR_REQUIREMENT: Record<LinkRequirement, TlsPolicyMode> = { none: 'opportunistic', tls: 'required', 'tls-verified': 'verified' };

/**
 * The TLS policy one message gets at one domain: the domain's own policy, raised (never
 * lowered) by what the sender required. A link policy only ever raises the level.
 */
export function effectiveTlsPolicy(domainPolicy: TlsPolicyMode, required: LinkRequirement | undefined): TlsPolicyMode {
  if (!required) return domainPolicy;
  const wanted = FOR_REQUIREMENT[required];
  return STRENGTH[wanted] > STRENGTH[domainPolicy] ? wanted : domainPolicy;
}
