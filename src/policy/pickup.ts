import type { Envelope, TlsPolicyMode } from '../kernel/index.ts';

/**
 * Whether one of our users submitted the message: the only mail that pickup conversion and the
 * `Sealgate-*` controls act on (DESIGN.md §9). A stranger's inbound mail never becomes a
 * pickup, so it cannot make us send a notice in a forged internal sender's name. Messages
 * queued before `origin` existed count as submitted only when they carry an SMTP AUTH user
 * (the inbound listener offers no AUTH). Our own mail (notices, reports) has neither.
 */
export function isSubmitted(message: Pick<Envelope, 'origin' | 'authUser'>): boolean {
  if (message.origin !== undefined) return message.origin === 'submitted' && !!message.authUser;
  return !!message.authUser;
}

/** The sender asked for pickup (tag, header, user rule): for remote recipients of submitted mail; our own domains get their mail. */
export function senderAsksPickup(message: Pick<Envelope, 'origin' | 'authUser' | 'pickup'>, route: 'mx' | 'smarthost'): boolean {
  return message.pickup === true && route === 'mx' && isSubmitted(message);
}

/** When Secure Message Pickup stands in for a link (DESIGN.md §6: "falls back to pickup"). */
export interface PickupRules {
  /** A required level (sender, user, pin, REQUIRETLS) no MX can meet: pickup rather than a bounce. */
  fallbackOnRequirement: boolean;
  /** "TLS or pickup" destinations: no MX met the TLS policy, so pickup rather than waiting. */
  tlsOrPickupDomains: string[];
}

export function isTlsOrPickup(domain: string, rules: PickupRules): boolean {
  const name = domain.toLowerCase();
  return rules.tlsOrPickupDomains.some((d) => d === '*' || d.toLowerCase() === name);
}

/**
 * The admin's TLS policy for a message to a domain: "TLS or pickup" raises opportunistic to
 * `required` (never plaintext; no TLS makes a pickup). Null-sender mail (notices, reports)
 * cannot become a pickup, so it keeps the domain's own policy.
 */
export function tlsPolicyWithPickup(domainPolicy: TlsPolicyMode, domain: string, mailFrom: string, rules: PickupRules): TlsPolicyMode {
  return domainPolicy === 'opportunistic' && mailFrom !== '' && isTlsOrPickup(domain, rules) ? 'required' : domainPolicy;
}

/**
 * Whether a delivery result becomes a pickup. Only policy outcomes qualify (5.7.10, 5.7.30,
 * and 4.7.5 for TLS-or-pickup domains), never a mailbox's own answer, never for a bounce
 * (null sender), which would otherwise make a pickup of a report about a pickup, and only for
 * submitted mail: inbound mail that cannot meet REQUIRETLS bounces (RFC 8689 §4.2).
 */
export function goesToPickup(
  result: { outcome: 'delivered' | 'deferred' | 'failed'; enhanced?: string },
  domain: string,
  message: Pick<Envelope, 'mailFrom' | 'origin' | 'authUser'>,
  rules: PickupRules,
): boolean {
  if (message.mailFrom === '' || result.outcome === 'delivered' || !isSubmitted(message)) return false;
  if (result.outcome === 'failed' && (result.enhanced === '5.7.10' || result.enhanced === '5.7.30')) return rules.fallbackOnRequirement;
  return result.enhanced === '4.7.5' && isTlsOrPickup(domain, rules);
}
