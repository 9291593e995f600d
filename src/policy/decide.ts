import type { Envelope, LinkRequirement } from '../kernel/index.ts';
import { strongest } from './link.ts';
import { goesToPickup, isSubmitted, senderPickupRequest, type PickupRules } from './pickup.ts';
import type { Route as Destination } from './route.ts';

/**
 * THE routing decision (issue 11, docs/flow.md "The routing decision"): one pure function of what
 * is known about a message, one recipient, the destination, the recipient's keys and the last
 * attempt. The delivery worker only executes what it returns, and asks again after an attempt.
 */

/** A sender's `Sealgate-Encrypt` request (submission only; the header is removed before relay). */
export type EncryptRequest = 'pgp' | 'smime' | 'auto';

export type KeyState = 'usable' | 'expired' | 'revoked';

/** What the key store knows of one recipient; `null`: nothing is known (no key store yet). */
export type RecipientKeys = { openpgp?: KeyState; smime?: KeyState } | null;

/** What one delivery attempt found for the recipient (the worker's `RecipientResult`, typed). */
export interface AttemptFinding {
  outcome: 'delivered' | 'deferred' | 'failed';
  reply: string;
  enhanced?: string;
  /** Refused by link policy: the best level any MX reached. */
  bestLink?: LinkRequirement;
}

export type RouteMessage = Pick<Envelope, 'mailFrom' | 'origin' | 'authUser' | 'notice' | 'pickup' | 'requireTls' | 'requiredLevel' | 'tlsOptional'> & {
  /** The sender's `Sealgate-Encrypt` request, once submission reads it. */
  encrypt?: EncryptRequest;
  /** The sender's "encrypt whenever a valid key is known" setting. */
  encryptWhenKeyKnown?: boolean;
};

export interface RouteFacts {
  message: RouteMessage;
  recipient: string;
  /** Destination domain of the recipient (the "TLS or pickup" lists name it). */
  domain: string;
  /** Smarthost for our own domains, else the domain's MX (`routeFor`). */
  destination: Destination;
  /** An admin pin known for the domain (remote.ts also reads it fresh before each attempt). */
  pin?: LinkRequirement;
  /** The best link level known for the destination (what a pickup notice will most likely get). */
  bestKnown?: LinkRequirement;
  /** When pickup may stand in; `undefined`: this gateway makes no pickups at all. */
  pickup?: PickupRules;
  keys: RecipientKeys;
  /**
   * An admin's end-to-end rule for this recipient (`e2e.encrypt.domains`): encrypt with this
   * method, else (no usable key) only a verified link or pickup, like a sender's request.
   */
  encryptRule?: EncryptRequest;
  /** `undefined`: before the first attempt of this decision. */
  attempt?: AttemptFinding;
}

export interface DeliverRoute {
  kind: 'deliver';
  via: Destination;
  /** The weakest link the sender's side demands (the destination's demands come on top, per host). */
  level: LinkRequirement;
  reason: string;
}

export type RouteDecision =
  | DeliverRoute
  | { kind: 'end-to-end'; method: 'openpgp' | 'smime'; then: DeliverRoute; reason: string }
  | { kind: 'pickup'; reason: string; bestLink?: LinkRequirement }
  | { kind: 'bounce'; code: string; enhanced: string; reason: string }
  /** The attempt's result is final (delivered, or failed with the reply the sender is told). */
  | { kind: 'done'; reason: string }
  /** The attempt's result is temporary: the queue retries on its schedule. */
  | { kind: 'retry'; reason: string };

function viaText(destination: Destination): string {
  return destination.kind === 'mx' ? "the destination's MX" : `the mailbox server ${destination.host}:${destination.port}`;
}

/** The method for the sender's request, or for a known key; `null`: no usable key for it. */
function endToEndMethod(keys: RecipientKeys, wanted: EncryptRequest): 'openpgp' | 'smime' | null {
  if (!keys) return null;
  if ((wanted === 'pgp' || wanted === 'auto') && keys.openpgp === 'usable') return 'openpgp';
  if ((wanted === 'smime' || wanted === 'auto') && keys.smime === 'usable') return 'smime';
  return null;
}

function keyProblem(keys: RecipientKeys, wanted: EncryptRequest): string {
  const states = [wanted !== 'smime' && keys?.openpgp && `OpenPGP key ${keys.openpgp}`, wanted !== 'pgp' && keys?.smime && `S/MIME certificate ${keys.smime}`].filter(Boolean);
  return states.length ? `the recipient's ${states.join(', ')}` : 'no key of the recipient is known';
}

export function decideRoute(facts: RouteFacts): RouteDecision {
  const { message, destination, attempt } = facts;
  const submitted = isSubmitted(message) && message.mailFrom !== '' && !message.notice;
  if (attempt) return afterAttempt(facts, attempt);

  // 1. The sender's explicit pickup request: honoured on every route, or refused with its reason.
  if (facts.pickup) {
    const request = senderPickupRequest(message, facts.pickup);
    if (request.kind === 'pickup') return { kind: 'pickup', reason: 'the sender asked for Secure Message Pickup', bestLink: facts.bestKnown };
    if (request.kind === 'refuse') return { kind: 'bounce', code: request.reply, enhanced: request.enhanced, reason: request.reply.replace(/^\d{3} \d\.\d\.\d+ /, '') };
  }

  const senderLevel = strongest(message.requiredLevel, facts.pin);
  const deliver = (level: LinkRequirement, reason: string): DeliverRoute => ({ kind: 'deliver', via: destination, level, reason });

  // 2. End to end, in this order: the sender's `Sealgate-Encrypt`, the admin's rule for the
  // recipient's domain, then the sender's "encrypt whenever a usable key is known".
  if (submitted) {
    const required = requiredEncryption(facts);
    const wanted = required?.wanted ?? (message.encryptWhenKeyKnown ? 'auto' : undefined);
    const method = wanted && endToEndMethod(facts.keys, wanted);
    if (method) {
      const name = method === 'openpgp' ? 'OpenPGP' : 'S/MIME';
      const why = required?.why ?? 'a usable key of the recipient is known and the sender encrypts whenever one is';
      return { kind: 'end-to-end', method, then: deliver(senderLevel, `encrypted with ${name}, then to ${viaText(destination)}`), reason: `${why}: encrypted with the recipient's ${name} key` };
    }
    // Required, but no usable key: never plaintext. A verified link, else pickup (after the attempt).
    if (required) {
      return deliver(strongest(senderLevel, 'tls-verified'), `${required.why}, but ${keyProblem(facts.keys, required.wanted)}: only over a verified link, else held for pickup`);
    }
  }
  const level = senderLevel;
  // Why this route, not what came of it: the receipt also carries the outcome, and a reason
  // reading "delivered" beside a message held for pickup misleads.
  return deliver(level, level === 'none' ? `no end-to-end encryption applies: to ${viaText(destination)} as it is` : `no end-to-end encryption applies: to ${viaText(destination)} as it is, over at least '${level}'`);
}

/** End-to-end encryption that must not silently turn into plain delivery: the sender's request, else the admin's rule. */
function requiredEncryption(facts: RouteFacts): { wanted: EncryptRequest; why: string } | undefined {
  if (facts.message.encrypt) return { wanted: facts.message.encrypt, why: `the sender asked for end-to-end encryption (Sealgate-Encrypt: ${facts.message.encrypt})` };
  if (facts.encryptRule) return { wanted: facts.encryptRule, why: `the rule for ${facts.domain} asks for end-to-end encryption (e2e.encrypt.domains: ${facts.encryptRule})` };
  return undefined;
}

function afterAttempt(facts: RouteFacts, attempt: AttemptFinding): RouteDecision {
  if (attempt.outcome === 'delivered') return { kind: 'done', reason: attempt.reply };
  const required = isSubmitted(facts.message) ? requiredEncryption(facts) : undefined;
  const encryptFallback = required !== undefined && endToEndMethod(facts.keys, required.wanted) === null;
  // The encryption fallback is a required level of its own: pickup stands in whenever a portal exists.
  const rules = facts.pickup && encryptFallback ? { ...facts.pickup, fallbackOnRequirement: true } : facts.pickup;
  if (rules && goesToPickup(attempt, facts.domain, facts.destination.kind, facts.message, rules)) {
    return { kind: 'pickup', reason: attempt.reply, bestLink: attempt.bestLink ?? facts.bestKnown };
  }
  return attempt.outcome === 'failed' ? { kind: 'done', reason: attempt.reply } : { kind: 'retry', reason: attempt.reply };
}
