import type { Envelope, TlsPolicyMode } from '../kernel/index.ts';

/**
 * Whether one of our users submitted the message: the only mail that pickup conversion and the
 * `Sealgate-*` controls act on (docs/architecture.md §9). A stranger's inbound mail never becomes a
 * pickup, so it cannot make us send a notice in a forged internal sender's name. Messages
 * queued before `origin` existed count as submitted only when they carry an SMTP AUTH user
 * (the inbound listener offers no AUTH). Our own mail (notices, reports) has neither.
 */
export function isSubmitted(message: Pick<Envelope, 'origin' | 'authUser'>): boolean {
  if (message.origin !== undefined) return message.origin === 'submitted' && !!message.authUser;
  return !!message.authUser;
}

/** When Secure Message Pickup stands in for a link (docs/architecture.md §6: "falls back to pickup"). */
export interface PickupRules {
  /** A required level (sender, user, pin, REQUIRETLS) no MX can meet: pickup rather than a bounce. */
  fallbackOnRequirement: boolean;
  /** "TLS or pickup" destinations: no MX met the TLS policy, so pickup rather than waiting. */
  tlsOrPickupDomains: string[];
  /** `pickup.whenNoTls`: every outside (MX-routed) destination is "TLS or pickup". */
  whenNoTls: boolean;
  /** A portal to pick up from (`web.enabled`): without one no pickup is made. */
  portal: boolean;
}

type RouteKind = 'mx' | 'smarthost';

export function isTlsOrPickup(domain: string, rules: Pick<PickupRules, 'tlsOrPickupDomains'>): boolean {
  const name = domain.toLowerCase();
  return rules.tlsOrPickupDomains.some((d) => d === '*' || d.toLowerCase() === name);
}

/**
 * Whether "TLS or pickup" holds this message to this domain: mail our users submitted, to a
 * listed domain on any route, or (`whenNoTls`) to any outside domain. Our own mail (notices,
 * codes, reports) cannot become a pickup, so it never is; the local smarthost hop is the
 * admin's own link (its TLS is `delivery.tlsPolicies`, warned about by `config check`).
 */
export function tlsOrPickupApplies(domain: string, route: RouteKind, message: TlsOrPickupMessage, rules: PickupRules): boolean {
  if (message.mailFrom === '' || message.notice || !isSubmitted(message)) return false;
  // RFC 8689 §5: a sender's `TLS-Required: No` asks for delivery without TLS; the blanket
  // default gives way to it, a domain the admin listed does not.
  const waived = message.tlsOptional === true && !message.requireTls;
  return isTlsOrPickup(domain, rules) || (rules.whenNoTls && route === 'mx' && !waived);
}

type TlsOrPickupMessage = Pick<Envelope, 'mailFrom' | 'origin' | 'authUser' | 'notice'> & Partial<Pick<Envelope, 'tlsOptional' | 'requireTls'>>;

/**
 * The admin's TLS policy for a message to a domain: "TLS or pickup" raises opportunistic to
 * `required` (never plaintext; no TLS makes a pickup, or waits when there is no portal).
 */
export function tlsPolicyWithPickup(
  domainPolicy: TlsPolicyMode,
  domain: string,
  route: RouteKind,
  message: TlsOrPickupMessage,
  rules: PickupRules,
): TlsPolicyMode {
  return domainPolicy === 'opportunistic' && tlsOrPickupApplies(domain, route, message, rules) ? 'required' : domainPolicy;
}

/** What to do with a sender's explicit request for pickup (tag, `Sealgate-Secure` header, user rule). */
export type PickupRequest = { kind: 'none' } | { kind: 'pickup' } | { kind: 'refuse'; reply: string; enhanced: string };

/**
 * An explicit request is honoured on every route, our own domains' smarthost included (a
 * patient of the clinic is as much a recipient as anyone), or refused with a reason: never
 * ignored, which would deliver in the clear what the sender asked to protect. Only mail our
 * users submitted can ask.
 */
export function senderPickupRequest(message: Pick<Envelope, 'origin' | 'authUser' | 'pickup'>, rules: Pick<PickupRules, 'portal'>): PickupRequest {
  if (message.pickup !== true || !isSubmitted(message)) return { kind: 'none' };
  if (!rules.portal) {
    return {
      kind: 'refuse',
      enhanced: '5.3.3',
      reply: '554 5.3.3 Secure Message Pickup was requested (subject tag, Sealgate-Secure header or user rule), but this gateway runs no pickup portal (web.enabled is false); the message was not sent',
    };
  }
  return { kind: 'pickup' };
}

/**
 * Whether a delivery result becomes a pickup. Only policy outcomes qualify (5.7.10, 5.7.30,
 * and 4.7.5 where "TLS or pickup" applies), never a mailbox's own answer, never for our own
 * mail (null sender, notices), which would otherwise make a pickup of a report about a
 * pickup, and only for submitted mail: inbound mail that cannot meet REQUIRETLS bounces
 * (RFC 8689 §4.2). Without a portal nothing becomes a pickup (the message waits or bounces).
 */
export function goesToPickup(
  result: { outcome: 'delivered' | 'deferred' | 'failed'; enhanced?: string },
  domain: string,
  route: RouteKind,
  message: TlsOrPickupMessage,
  rules: PickupRules,
): boolean {
  if (!rules.portal || message.mailFrom === '' || message.notice || result.outcome === 'delivered' || !isSubmitted(message)) return false;
  if (result.outcome === 'failed' && (result.enhanced === '5.7.10' || result.enhanced === '5.7.30')) return rules.fallbackOnRequirement;
  return result.enhanced === '4.7.5' && tlsOrPickupApplies(domain, route, message, rules);
}
