import { LINK_LEVELS, type LinkRequirement, type TlsPolicyMode } from '../kernel/index.ts';

export function atLeast(level: LinkRequirement, required: LinkRequirement): boolean {
  return LINK_LEVELS.indexOf(level) >= LINK_LEVELS.indexOf(required);
}

export function strongest(...levels: (LinkRequirement | undefined)[]): LinkRequirement {
  return levels.reduce<LinkRequirement>((best, level) => (level && !atLeast(best, level) ? level : best), 'none');
}

/** What the destination publishes about one MX host (DNSSEC/DANE, MTA-STS). */
export type HostSecurity =
  /** Usable TLSA records under DNSSEC (RFC 7672 §2.2). */
  | { kind: 'dane' }
  /** TLSA records under DNSSEC, none usable: TLS is mandatory, unauthenticated (RFC 7672 §2.2). */
  | { kind: 'dane-unusable' }
  /** The host is listed in the domain's MTA-STS policy. */
  | { kind: 'sts'; mode: 'enforce' | 'testing' }
  | { kind: 'none' };

const FROM_LOCAL: Record<TlsPolicyMode, LinkRequirement> = { opportunistic: 'none', required: 'tls', verified: 'tls-verified' };

export interface HostDemand {
  /** The weakest link this host may be used over; `none` allows plaintext. */
  minimum: LinkRequirement;
  /** Who asked for the minimum, for the reason a person reads. */
  because: string;
  /** MTA-STS `testing`: a failure is reported (TLS-RPT), never enforced. */
  reportOnly: boolean;
  /** The link-security memory set the minimum: failing it is a refused downgrade (an alert). */
  held: boolean;
}

/** One record of the link-security memory: what an MX of the domain proved, and until when. */
export interface ProvenLink {
  mxHost: string;
  level: LinkRequirement;
  expiresAt: number;
}

/** The level a host is held to by what was proved before, and whose proof it is. */
export interface HeldLevel {
  level: LinkRequirement;
  /** The MX whose record holds it (the host itself, or the domain's weakest other MX). */
  provedBy: string;
  until: number;
}

/**
 * What the memory holds a host to (chasquid `domaininfo`: refuse downgrades). The host's own
 * record while it holds; for a host with none (a new or a spoofed MX name) the weakest level
 * the domain's other MX hosts proved, so a changed MX list does not start from nothing.
 * Expired records hold nothing: that is how a level falls after its TTL without contact.
 */
export function heldLevel(host: string, records: ProvenLink[], now: number): HeldLevel | undefined {
  const live = records.filter((r) => r.expiresAt > now);
  const own = live.find((r) => r.mxHost.toLowerCase() === host.toLowerCase());
  if (own) return { level: own.level, provedBy: own.mxHost, until: own.expiresAt };
  let weakest: ProvenLink | undefined;
  for (const r of live) if (!weakest || !atLeast(r.level, weakest.level)) weakest = r;
  return weakest && { level: weakest.level, provedBy: weakest.mxHost, until: weakest.expiresAt };
}

export interface MessageDemand {
  /** Admin TLS policy for the destination domain. */
  localPolicy: TlsPolicyMode;
  /** The sender's requirement (header, user setting, domain pin), if any. */
  required?: LinkRequirement;
  /** Who asked for `required`, for the reason a person reads (default: the sender). */
  requiredBy?: string;
  /** RFC 8689 `TLS-Required: No` (only without REQUIRETLS): published policies are ignored. */
  tlsOptional?: boolean;
}

/**
 * The weakest link a message may take to one host: the strongest of the admin's policy, the
 * sender's requirement and what the destination publishes (DANE above MTA-STS, RFC 8461 §2).
 */
export function hostDemand(security: HostSecurity, message: MessageDemand, held?: HeldLevel): HostDemand {
  const candidates: [LinkRequirement, string, 'memory'?][] = [[FROM_LOCAL[message.localPolicy], `TLS policy '${message.localPolicy}'`]];
  if (message.required) candidates.push([message.required, message.requiredBy ?? `the sender's requirement '${message.required}'`]);
  if (!message.tlsOptional) {
    if (security.kind === 'dane') candidates.push(['dane', 'the destination\'s DANE TLSA records']);
    if (security.kind === 'dane-unusable') candidates.push(['tls', 'the destination\'s TLSA records (none usable: TLS required)']);
    if (security.kind === 'sts' && security.mode === 'enforce') candidates.push(['tls-verified', 'the destination\'s MTA-STS policy (enforce)']);
    // What the destination proved is treated like what it publishes: RFC 8689 §5 lets the
    // sender waive both with TLS-Required: No (the admin's policy and pins still hold).
    if (held) candidates.push([held.level, `what ${held.provedBy} proved before (link-security memory, until ${new Date(held.until).toISOString()})`, 'memory']);
  }
  let [minimum, because] = candidates[0];
  let fromMemory = false;
  for (const [level, who, source] of candidates) {
    if (!atLeast(minimum, level)) [minimum, because, fromMemory] = [level, who, source === 'memory'];
  }
  const reportOnly = security.kind === 'sts' && security.mode === 'testing' && !message.tlsOptional;
  return { minimum, because, reportOnly, held: fromMemory };
}

/**
 * RFC 8689 §4.2.1: a REQUIRETLS message goes only over TLS authenticated by DANE or by an
 * MTA-STS policy that lists the host, and only to a server that advertises REQUIRETLS.
 */
export function requireTlsRefusal(security: HostSecurity, achieved: LinkRequirement, advertised: boolean): string | null {
  const authenticated = (security.kind === 'dane' && achieved === 'dane') || (security.kind === 'sts' && atLeast(achieved, 'tls-verified'));
  if (!authenticated) {
    return security.kind === 'none' || security.kind === 'dane-unusable'
      ? 'the destination publishes neither usable DANE records nor an MTA-STS policy for this host'
      : `the link was not authenticated (reached '${achieved}')`;
  }
  if (!advertised) return 'the server does not advertise REQUIRETLS';
  return null;
}
