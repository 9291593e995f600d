import { describe, expect, it } from 'vitest';
import { atLeast, hostDemand, requireTlsRefusal, strongest, type HostSecurity } from './link.ts';

const none: HostSecurity = { kind: 'none' };
const dane: HostSecurity = { kind: 'dane' };
const enforce: HostSecurity = { kind: 'sts', mode: 'enforce' };
const testing: HostSecurity = { kind: 'sts', mode: 'testing' };

describe('hostDemand', () => {
  it.each([
    [none, 'opportunistic', undefined, false, 'none'],
    [none, 'required', undefined, false, 'tls'],
    [none, 'verified', undefined, false, 'tls-verified'],
    [none, 'opportunistic', 'tls-verified', false, 'tls-verified'],
    [none, 'verified', 'tls', false, 'tls-verified'],
    [dane, 'opportunistic', undefined, false, 'dane'],
    [dane, 'verified', undefined, false, 'dane'],
    [{ kind: 'dane-unusable' }, 'opportunistic', undefined, false, 'tls'],
    [enforce, 'opportunistic', undefined, false, 'tls-verified'],
    [enforce, 'opportunistic', 'dane', false, 'dane'],
    [testing, 'opportunistic', undefined, false, 'none'],
    // TLS-Required: No drops what the destination publishes, never the admin's or sender's rule.
    [dane, 'opportunistic', undefined, true, 'none'],
    [enforce, 'required', undefined, true, 'tls'],
    [enforce, 'opportunistic', 'tls-verified', true, 'tls-verified'],
  ] as const)('%o, policy %s, sender %s, optional %s → %s', (security, localPolicy, required, tlsOptional, minimum) => {
    expect(hostDemand(security, { localPolicy, required, tlsOptional }).minimum).toBe(minimum);
  });

  it('names who asked for the level and marks testing as report-only', () => {
    expect(hostDemand(dane, { localPolicy: 'verified' }).because).toMatch(/DANE/);
    expect(hostDemand(none, { localPolicy: 'opportunistic', required: 'tls' }).because).toMatch(/sender/);
    expect(hostDemand(testing, { localPolicy: 'opportunistic' }).reportOnly).toBe(true);
    expect(hostDemand(testing, { localPolicy: 'opportunistic', tlsOptional: true }).reportOnly).toBe(false);
  });
});

describe('requireTlsRefusal (RFC 8689 §4.2.1)', () => {
  it.each([
    [dane, 'dane', true, null],
    [enforce, 'tls-verified', true, null],
    [testing, 'tls-verified', true, null],
    [enforce, 'tls-verified', false, /does not advertise/],
    [none, 'tls-verified', true, /neither/],
    [enforce, 'tls', true, /not authenticated/],
    [dane, 'tls-verified', true, /not authenticated/],
  ] as const)('%o reaching %s, advertised %s', (security, achieved, advertised, expected) => {
    const refusal = requireTlsRefusal(security, achieved, advertised);
    if (expected === null) expect(refusal).toBeNull();
    else expect(refusal).toMatch(expected);
  });
});

describe('level order', () => {
  it('orders and combines levels', () => {
    expect(atLeast('dane', 'tls-verified')).toBe(true);
    expect(atLeast('tls', 'tls-verified')).toBe(false);
    expect(strongest(undefined, 'tls', 'none')).toBe('tls');
    expect(strongest('dane', 'tls-verified')).toBe('dane');
    expect(strongest()).toBe('none');
  });
});
