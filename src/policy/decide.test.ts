import { describe, expect, it } from 'vitest';
import { decideRoute, type AttemptFinding, type RecipientKeys, type RouteFacts, type RouteMessage } from './decide.ts';
import type { PickupRules } from './pickup.ts';

// One row per case of docs/flow.md "The routing decision": message × pickup request × "TLS or pickup"
// × local/MX × pin × attempt outcome × keys known → the route's kind (and what it carries).
const submitted: RouteMessage = { mailFrom: 'alice@ours.test', origin: 'submitted', authUser: 'alice', requireTls: false };
const inbound: RouteMessage = { mailFrom: 'bob@far.test', origin: 'inbound', requireTls: false };
const notice: RouteMessage = { mailFrom: '', requireTls: false, notice: { kind: 'pickup-notice', pickupId: 'P1' } };
const mx = { kind: 'mx' } as const;
const local = { kind: 'smarthost', host: '127.0.0.1', port: 2525 } as const;
const portal: PickupRules = { fallbackOnRequirement: true, tlsOrPickupDomains: [], whenNoTls: false, portal: true };
const tlsOrPickup: PickupRules = { ...portal, whenNoTls: true };
const noPortal: PickupRules = { ...tlsOrPickup, portal: false };

const noTls: AttemptFinding = { outcome: 'deferred', enhanced: '4.7.5', reply: '451 4.7.5 No MX offered TLS', bestLink: 'none' };
const unmet: AttemptFinding = { outcome: 'failed', enhanced: '5.7.10', reply: '550 5.7.10 No MX meets tls-verified', bestLink: 'tls' };
const delivered: AttemptFinding = { outcome: 'delivered', reply: '250 2.0.0 ok' };
const unknownUser: AttemptFinding = { outcome: 'failed', enhanced: '5.1.1', reply: '550 5.1.1 no such user' };
const busy: AttemptFinding = { outcome: 'deferred', enhanced: '4.4.1', reply: '421 4.4.1 try later' };

const pgp: RecipientKeys = { openpgp: 'usable' };
const smime: RecipientKeys = { smime: 'usable' };
const expired: RecipientKeys = { openpgp: 'expired', smime: 'revoked' };

type Row = [name: string, message: RouteMessage, pickup: PickupRules | undefined, destination: RouteFacts['destination'], pin: RouteFacts['pin'], attempt: AttemptFinding | undefined, keys: RecipientKeys, expected: Record<string, unknown>];

const rows: Row[] = [
  // Before the attempt
  ['submitted, nothing asked, MX', submitted, tlsOrPickup, mx, undefined, undefined, null, { kind: 'deliver', via: mx, level: 'none' }],
  ['submitted, nothing asked, local', submitted, tlsOrPickup, local, undefined, undefined, null, { kind: 'deliver', via: local, level: 'none' }],
  ['submitted, pin on the MX domain', submitted, portal, mx, 'tls-verified', undefined, null, { kind: 'deliver', level: 'tls-verified' }],
  ['submitted, sender level and a weaker pin', { ...submitted, requiredLevel: 'dane' }, portal, mx, 'tls', undefined, null, { kind: 'deliver', level: 'dane' }],
  ['pickup request, MX', { ...submitted, pickup: true }, portal, mx, undefined, undefined, null, { kind: 'pickup', reason: 'the sender asked for Secure Message Pickup' }],
  ['pickup request, local (smarthost) too', { ...submitted, pickup: true }, tlsOrPickup, local, undefined, undefined, null, { kind: 'pickup' }],
  ['pickup request beats a usable key', { ...submitted, pickup: true, encrypt: 'auto' }, portal, mx, undefined, undefined, pgp, { kind: 'pickup' }],
  ['pickup request without a portal: bounce 5.3.3', { ...submitted, pickup: true }, noPortal, mx, undefined, undefined, null, { kind: 'bounce', enhanced: '5.3.3' }],
  ['pickup request, no pickup service at all: delivered', { ...submitted, pickup: true }, undefined, mx, undefined, undefined, null, { kind: 'deliver' }],
  ['inbound with a pickup flag: delivered, never a pickup', { ...inbound, pickup: true }, tlsOrPickup, local, undefined, undefined, null, { kind: 'deliver', via: local }],
  ['our own notice with a pickup flag: delivered', { ...notice, pickup: true }, tlsOrPickup, mx, undefined, undefined, null, { kind: 'deliver' }],
  // End to end (the worker fills `keys` from the key store)
  ['Sealgate-Encrypt: pgp, usable OpenPGP key', { ...submitted, encrypt: 'pgp' }, portal, mx, undefined, undefined, pgp, { kind: 'end-to-end', method: 'openpgp', then: { kind: 'deliver', via: mx, level: 'none' } }],
  ['Sealgate-Encrypt: smime, usable certificate, local', { ...submitted, encrypt: 'smime' }, portal, local, undefined, undefined, smime, { kind: 'end-to-end', method: 'smime', then: { kind: 'deliver', via: local } }],
  ['Sealgate-Encrypt: auto prefers OpenPGP', { ...submitted, encrypt: 'auto' }, portal, mx, undefined, undefined, { openpgp: 'usable', smime: 'usable' }, { kind: 'end-to-end', method: 'openpgp' }],
  ['Sealgate-Encrypt: auto, only S/MIME', { ...submitted, encrypt: 'auto' }, portal, mx, undefined, undefined, smime, { kind: 'end-to-end', method: 'smime' }],
  ['encrypt when a key is known, key usable', { ...submitted, encryptWhenKeyKnown: true }, portal, mx, undefined, undefined, pgp, { kind: 'end-to-end', method: 'openpgp' }],
  ['key usable but encryption off for the sender', submitted, portal, mx, undefined, undefined, pgp, { kind: 'deliver', level: 'none' }],
  ['encrypt when known, key expired: as today', { ...submitted, encryptWhenKeyKnown: true }, portal, mx, undefined, undefined, expired, { kind: 'deliver', level: 'none' }],
  ['Sealgate-Encrypt: pgp, only an S/MIME key: verified link', { ...submitted, encrypt: 'pgp' }, portal, mx, undefined, undefined, smime, { kind: 'deliver', level: 'tls-verified' }],
  ['Sealgate-Encrypt: auto, keys expired/revoked: verified link', { ...submitted, encrypt: 'auto' }, portal, mx, undefined, undefined, expired, { kind: 'deliver', level: 'tls-verified' }],
  ['Sealgate-Encrypt: auto, nothing known: verified link', { ...submitted, encrypt: 'auto' }, portal, mx, undefined, undefined, null, { kind: 'deliver', level: 'tls-verified' }],
  ['Sealgate-Encrypt with a stronger sender level keeps it', { ...submitted, encrypt: 'auto', requiredLevel: 'dane' }, portal, mx, undefined, undefined, null, { kind: 'deliver', level: 'dane' }],
  ['inbound with a usable key: never end to end', { ...inbound, encrypt: 'pgp' }, portal, local, undefined, undefined, pgp, { kind: 'deliver', level: 'none' }],
  // After the attempt
  ['delivered', submitted, tlsOrPickup, mx, undefined, delivered, null, { kind: 'done', reason: '250 2.0.0 ok' }],
  ['"TLS or pickup" on, no TLS at the MX: pickup', submitted, tlsOrPickup, mx, undefined, noTls, null, { kind: 'pickup', reason: noTls.reply, bestLink: 'none' }],
  ['"TLS or pickup" off, no TLS: retry', submitted, portal, mx, undefined, noTls, null, { kind: 'retry' }],
  ['"TLS or pickup" on, local route: retry (the admin\'s own link)', submitted, tlsOrPickup, local, undefined, noTls, null, { kind: 'retry' }],
  ['"TLS or pickup" listed domain, local route: pickup', submitted, { ...portal, tlsOrPickupDomains: ['ours.test'] }, local, undefined, noTls, null, { kind: 'pickup' }],
  ['TLS-Required: No waives the blanket "TLS or pickup"', { ...submitted, tlsOptional: true }, tlsOrPickup, mx, undefined, noTls, null, { kind: 'retry' }],
  ['"TLS or pickup" without a portal: retry', submitted, noPortal, mx, undefined, noTls, null, { kind: 'retry' }],
  ['required level unmet, fallback on: pickup', { ...submitted, requiredLevel: 'tls-verified' }, portal, mx, undefined, unmet, null, { kind: 'pickup', bestLink: 'tls' }],
  ['pin unmet (5.7.10), fallback on: pickup', submitted, portal, mx, 'tls-verified', unmet, null, { kind: 'pickup' }],
  ['required level unmet, fallback off: done (the bounce stands)', submitted, { ...portal, fallbackOnRequirement: false }, mx, undefined, unmet, null, { kind: 'done' }],
  ['REQUIRETLS unmet (5.7.30), submitted: pickup', { ...submitted, requireTls: true }, portal, mx, undefined, { ...unmet, enhanced: '5.7.30' }, null, { kind: 'pickup' }],
  ['REQUIRETLS unmet, inbound: done (bounces, RFC 8689 §4.2)', { ...inbound, requireTls: true }, portal, mx, undefined, { ...unmet, enhanced: '5.7.30' }, null, { kind: 'done' }],
  ['required level unmet, no portal: done', submitted, noPortal, mx, undefined, unmet, null, { kind: 'done' }],
  ['our notice, level unmet: done, never a pickup', notice, tlsOrPickup, mx, undefined, unmet, null, { kind: 'done' }],
  ['mailbox refuses (5.1.1): done', submitted, tlsOrPickup, mx, undefined, unknownUser, null, { kind: 'done', reason: unknownUser.reply }],
  ['mailbox busy (4.4.1): retry', submitted, tlsOrPickup, mx, undefined, busy, null, { kind: 'retry' }],
  ['no pickup service, level unmet: done', submitted, undefined, mx, undefined, unmet, null, { kind: 'done' }],
  ['encrypt asked, no key, verified link unmet, fallback off: still pickup', { ...submitted, encrypt: 'auto' }, { ...portal, fallbackOnRequirement: false }, mx, undefined, unmet, expired, { kind: 'pickup' }],
  ['encrypt asked, no key, no portal: done (bounce, never plaintext)', { ...submitted, encrypt: 'auto' }, noPortal, mx, undefined, unmet, null, { kind: 'done' }],
  ['end to end then delivered: done', { ...submitted, encrypt: 'pgp' }, portal, mx, undefined, delivered, pgp, { kind: 'done' }],
];

describe('decideRoute', () => {
  it.each(rows)('%s', (_name, message, pickup, destination, pin, attempt, keys, expected) => {
    const route = decideRoute({ message, recipient: 'carol@dest.test', domain: destination.kind === 'mx' ? 'dest.test' : 'ours.test', destination, pin, pickup, keys, attempt });
    expect(route).toMatchObject(expected);
    expect(route.reason.length).toBeGreaterThan(10);
  });

  it('says why a recipient without a usable key gets no end-to-end route (what the receipt will say)', () => {
    const route = decideRoute({ message: { ...submitted, encrypt: 'pgp' }, recipient: 'c@d.test', domain: 'd.test', destination: mx, pickup: portal, keys: { openpgp: 'expired' } });
    expect(route.reason).toMatch(/OpenPGP key expired.*verified link, else held for pickup/);
  });

  // The admin's rule for the recipient's domain (e2e.encrypt.domains) sits between the sender's
  // header and "encrypt whenever a key is known" (docs/flow.md).
  type RuleRow = [name: string, message: RouteMessage, rule: RouteFacts['encryptRule'], keys: RecipientKeys, attempt: AttemptFinding | undefined, expected: Record<string, unknown>];
  const ruleRows: RuleRow[] = [
    ['domain rule pgp, usable key: end to end', submitted, 'pgp', pgp, undefined, { kind: 'end-to-end', method: 'openpgp', reason: expect.stringMatching(/rule for dest\.test/) }],
    ['domain rule smime, only OpenPGP: verified link', submitted, 'smime', pgp, undefined, { kind: 'deliver', level: 'tls-verified', reason: expect.stringMatching(/rule for dest\.test.*no key of the recipient/) }],
    ['sender header beats the domain rule', { ...submitted, encrypt: 'smime' }, 'pgp', { openpgp: 'usable', smime: 'usable' }, undefined, { kind: 'end-to-end', method: 'smime', reason: expect.stringMatching(/Sealgate-Encrypt: smime/) }],
    ['domain rule beats encrypt-when-known', { ...submitted, encryptWhenKeyKnown: true }, 'smime', { openpgp: 'usable' }, undefined, { kind: 'deliver', level: 'tls-verified' }],
    ['domain rule, key expired, verified link unmet: pickup', submitted, 'auto', expired, unmet, { kind: 'pickup' }],
    ['domain rule on inbound mail: ignored', inbound, 'pgp', pgp, undefined, { kind: 'deliver', level: 'none' }],
    ['domain rule, inbound, level unmet: done, never a pickup', inbound, 'pgp', null, unmet, { kind: 'done' }],
  ];
  it.each(ruleRows)('%s', (_name, message, encryptRule, keys, attempt, expected) => {
    expect(decideRoute({ message, recipient: 'carol@dest.test', domain: 'dest.test', destination: mx, pickup: portal, keys, encryptRule, attempt })).toMatchObject(expected);
  });

  it('the refused pickup request carries the full reply the sender is told', () => {
    const route = decideRoute({ message: { ...submitted, pickup: true }, recipient: 'c@d.test', domain: 'd.test', destination: mx, pickup: noPortal, keys: null });
    expect(route).toMatchObject({ kind: 'bounce', code: expect.stringMatching(/^554 5\.3\.3 Secure Message Pickup was requested/) });
  });
});
