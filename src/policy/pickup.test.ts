import { describe, expect, it } from 'vitest';
import { goesToPickup, isSubmitted, isTlsOrPickup, senderPickupRequest, tlsOrPickupApplies, tlsPolicyWithPickup } from './pickup.ts';

const rules = { fallbackOnRequirement: true, tlsOrPickupDomains: ['clinic.test'], whenNoTls: false, portal: true };
const submitted = { mailFrom: 'a@s.test', origin: 'submitted', authUser: 'alice@s.test' } as const;
const notice = { mailFrom: '', notice: { kind: 'pickup-notice', pickupId: 'p1' } } as const;

describe('goesToPickup', () => {
  it.each([
    [{ outcome: 'failed', enhanced: '5.7.10' }, 'any.test', 'a@s.test', rules, true],
    [{ outcome: 'failed', enhanced: '5.7.30' }, 'any.test', 'a@s.test', rules, true],
    [{ outcome: 'failed', enhanced: '5.7.10' }, 'any.test', 'a@s.test', { ...rules, fallbackOnRequirement: false }, false],
    [{ outcome: 'deferred', enhanced: '4.7.5' }, 'clinic.test', 'a@s.test', rules, true],
    [{ outcome: 'deferred', enhanced: '4.7.5' }, 'other.test', 'a@s.test', rules, false],
    [{ outcome: 'deferred', enhanced: '4.7.5' }, 'other.test', 'a@s.test', { ...rules, whenNoTls: true }, true],
    [{ outcome: 'deferred', enhanced: '4.7.5' }, 'clinic.test', 'a@s.test', { ...rules, portal: false }, false],
    [{ outcome: 'failed', enhanced: '5.7.10' }, 'any.test', 'a@s.test', { ...rules, portal: false }, false],
    [{ outcome: 'deferred', enhanced: '4.4.1' }, 'clinic.test', 'a@s.test', rules, false],
    [{ outcome: 'failed', enhanced: '5.1.1' }, 'clinic.test', 'a@s.test', rules, false],
    [{ outcome: 'failed', enhanced: '5.7.10' }, 'any.test', '', rules, false],
    [{ outcome: 'delivered' }, 'clinic.test', 'a@s.test', rules, false],
  ] as const)('%o to %s from %s → %s', (result, domain, from, r, expected) => {
    expect(goesToPickup(result, domain, 'mx', { ...submitted, mailFrom: from }, r)).toBe(expected);
  });

  it('never makes a pickup of our own notice, whatever its envelope sender', () => {
    const everywhere = { ...rules, tlsOrPickupDomains: ['*'], whenNoTls: true };
    expect(goesToPickup({ outcome: 'failed', enhanced: '5.7.10' }, 'any.test', 'mx', notice, everywhere)).toBe(false);
    expect(goesToPickup({ outcome: 'failed', enhanced: '5.7.10' }, 'any.test', 'mx', { ...submitted, notice: notice.notice }, everywhere)).toBe(false);
  });

  it.each([
    [{ origin: 'submitted', authUser: 'a@s.test' }, true],
    [{ origin: 'inbound', authUser: undefined }, false],
    // a forged combination never counts: submitted needs an authenticated user
    [{ origin: 'submitted', authUser: undefined }, false],
    [{ origin: 'inbound', authUser: 'a@s.test' }, false],
    // queued before origin existed: only authenticated mail counts
    [{ origin: undefined, authUser: 'a@s.test' }, true],
    [{ origin: undefined, authUser: undefined }, false],
  ] as const)('REQUIRETLS failure (5.7.30) of %o becomes a pickup: %s', (message, expected) => {
    expect(isSubmitted(message)).toBe(expected);
    expect(goesToPickup({ outcome: 'failed', enhanced: '5.7.30' }, 'any.test', 'mx', { mailFrom: 'a@s.test', ...message }, rules)).toBe(expected);
  });
});

describe('senderPickupRequest: an explicit request is honoured on every route, or refused with a reason', () => {
  it.each([
    // issue 10 item 4: the route no longer matters (our own domains' smarthost included)
    [{ pickup: true, origin: 'submitted', authUser: 'a@s.test' }, rules, 'pickup'],
    [{ pickup: true, origin: undefined, authUser: 'a@s.test' }, rules, 'pickup'],
    [{ pickup: true, origin: 'submitted', authUser: 'a@s.test' }, { ...rules, portal: false }, 'refuse'],
    // a stranger's inbound mail cannot ask
    [{ pickup: true, origin: 'inbound', authUser: undefined }, rules, 'none'],
    [{ pickup: true, origin: 'submitted', authUser: undefined }, rules, 'none'],
    [{ pickup: undefined, origin: 'submitted', authUser: 'a@s.test' }, rules, 'none'],
    [{ pickup: false, origin: 'submitted', authUser: 'a@s.test' }, { ...rules, portal: false }, 'none'],
  ] as const)('%o with %o → %s', (message, r, expected) => {
    expect(senderPickupRequest(message, r).kind).toBe(expected);
  });

  it('says why it refuses, with a status the DSN carries', () => {
    const refused = senderPickupRequest({ pickup: true, origin: 'submitted', authUser: 'a@s.test' }, { portal: false });
    expect(refused).toMatchObject({ kind: 'refuse', enhanced: '5.3.3' });
    expect(refused.kind === 'refuse' && refused.reply).toMatch(/^554 5\.3\.3 .*web\.enabled is false/);
  });
});

describe('TLS or pickup', () => {
  it('matches TLS-or-pickup domains case-insensitively, and * for all', () => {
    expect(isTlsOrPickup('Clinic.TEST', rules)).toBe(true);
    expect(isTlsOrPickup('x.test', { ...rules, tlsOrPickupDomains: ['*'] })).toBe(true);
  });

  it.each([
    // [domain, route, message, rules, applies]
    ['clinic.test', 'mx', submitted, rules, true],
    ['clinic.test', 'smarthost', submitted, rules, true],
    ['other.test', 'mx', submitted, rules, false],
    // pickup.whenNoTls: every outside destination, not our own smarthost hop
    ['other.test', 'mx', submitted, { ...rules, whenNoTls: true }, true],
    ['other.test', 'smarthost', submitted, { ...rules, whenNoTls: true }, false],
    // never our own mail: reports (null sender), notices and codes, inbound mail
    ['other.test', 'mx', { ...submitted, mailFrom: '' }, { ...rules, whenNoTls: true }, false],
    ['clinic.test', 'mx', notice, { ...rules, whenNoTls: true }, false],
    ['clinic.test', 'mx', { mailFrom: 'x@y.test', origin: 'inbound' }, { ...rules, whenNoTls: true }, false],
    // the sender's TLS-Required: No (RFC 8689 §5) waives the blanket default, not a listed domain, and not with REQUIRETLS
    ['other.test', 'mx', { ...submitted, tlsOptional: true }, { ...rules, whenNoTls: true }, false],
    ['other.test', 'mx', { ...submitted, tlsOptional: true, requireTls: true }, { ...rules, whenNoTls: true }, true],
    ['clinic.test', 'mx', { ...submitted, tlsOptional: true }, { ...rules, whenNoTls: true }, true],
  ] as const)('%s via %s for %o under %o → %s', (domain, route, message, r, expected) => {
    expect(tlsOrPickupApplies(domain, route, message, r)).toBe(expected);
    expect(tlsPolicyWithPickup('opportunistic', domain, route, message, r)).toBe(expected ? 'required' : 'opportunistic');
  });

  it('never lowers a stricter domain policy', () => {
    expect(tlsPolicyWithPickup('verified', 'clinic.test', 'mx', submitted, rules)).toBe('verified');
    expect(tlsPolicyWithPickup('required', 'other.test', 'mx', notice, rules)).toBe('required');
  });
});
