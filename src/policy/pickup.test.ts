import { describe, expect, it } from 'vitest';
import { goesToPickup, isSubmitted, isTlsOrPickup, senderAsksPickup, tlsPolicyWithPickup } from './pickup.ts';

const rules = { fallbackOnRequirement: true, tlsOrPickupDomains: ['clinic.test'] };

describe('goesToPickup', () => {
  it.each([
    [{ outcome: 'failed', enhanced: '5.7.10' }, 'any.test', 'a@s.test', rules, true],
    [{ outcome: 'failed', enhanced: '5.7.30' }, 'any.test', 'a@s.test', rules, true],
    [{ outcome: 'failed', enhanced: '5.7.10' }, 'any.test', 'a@s.test', { ...rules, fallbackOnRequirement: false }, false],
    [{ outcome: 'deferred', enhanced: '4.7.5' }, 'clinic.test', 'a@s.test', rules, true],
    [{ outcome: 'deferred', enhanced: '4.7.5' }, 'other.test', 'a@s.test', rules, false],
    [{ outcome: 'deferred', enhanced: '4.4.1' }, 'clinic.test', 'a@s.test', rules, false],
    [{ outcome: 'failed', enhanced: '5.1.1' }, 'clinic.test', 'a@s.test', rules, false],
    [{ outcome: 'failed', enhanced: '5.7.10' }, 'any.test', '', rules, false],
    [{ outcome: 'delivered' }, 'clinic.test', 'a@s.test', rules, false],
  ] as const)('%o to %s from %s → %s', (result, domain, from, r, expected) => {
    expect(goesToPickup(result, domain, { mailFrom: from, origin: 'submitted', authUser: 'alice@s.test' }, r)).toBe(expected);
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
    expect(goesToPickup({ outcome: 'failed', enhanced: '5.7.30' }, 'any.test', { mailFrom: 'a@s.test', ...message }, rules)).toBe(expected);
  });

  it.each([
    [{ pickup: true, origin: 'submitted', authUser: 'a@s.test' }, 'mx', true],
    [{ pickup: true, origin: 'submitted', authUser: 'a@s.test' }, 'smarthost', false],
    [{ pickup: true, origin: 'inbound', authUser: undefined }, 'mx', false],
    [{ pickup: undefined, origin: 'submitted', authUser: 'a@s.test' }, 'mx', false],
  ] as const)('sender asks for pickup %o via %s → %s', (message, route, expected) => {
    expect(senderAsksPickup(message, route)).toBe(expected);
  });

  it('matches TLS-or-pickup domains case-insensitively, and * for all', () => {
    expect(isTlsOrPickup('Clinic.TEST', rules)).toBe(true);
    expect(isTlsOrPickup('x.test', { ...rules, tlsOrPickupDomains: ['*'] })).toBe(true);
  });

  it('raises opportunistic to required for TLS-or-pickup domains, except for null-sender mail', () => {
    expect(tlsPolicyWithPickup('opportunistic', 'clinic.test', 'a@s.test', rules)).toBe('required');
    expect(tlsPolicyWithPickup('opportunistic', 'clinic.test', '', rules)).toBe('opportunistic');
    expect(tlsPolicyWithPickup('verified', 'clinic.test', 'a@s.test', rules)).toBe('verified');
    expect(tlsPolicyWithPickup('opportunistic', 'other.test', 'a@s.test', rules)).toBe('opportunistic');
  });
});
