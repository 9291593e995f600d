import { describe, expect, it } from 'vitest';
import { atLeast, heldLevel, hostDemand, requireTlsRefusal, strongest, type HostSecurity } from './link.ts';

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

describe('the link-security memory (heldLevel, hostDemand)', () => {
  const now = 1_000_000;
  const records = [
    { mxHost: 'mx1.d.test', level: 'tls-verified' as const, expiresAt: now + 1000 },
    { mxHost: 'mx2.d.test', level: 'tls' as const, expiresAt: now + 1000 },
    { mxHost: 'old.d.test', level: 'dane' as const, expiresAt: now - 1 },
  ];

  it('holds a host to its own record, a new host to the weakest live record, nothing after the TTL', () => {
    expect(heldLevel('MX1.d.test', records, now)).toEqual({ level: 'tls-verified', provedBy: 'mx1.d.test', until: now + 1000 });
    expect(heldLevel('spoofed.evil.test', records, now)?.level).toBe('tls');
    expect(heldLevel('old.d.test', records, now)?.level).toBe('tls');
    expect(heldLevel('mx1.d.test', records, now + 1000)).toBeUndefined();
    expect(heldLevel('mx1.d.test', [], now)).toBeUndefined();
  });

  it.each([
    [none, 'opportunistic', undefined, false, 'tls-verified', 'tls-verified', true],
    [none, 'opportunistic', 'tls', false, 'tls-verified', 'tls-verified', true],
    [none, 'verified', undefined, false, 'tls', 'tls-verified', false],
    [dane, 'opportunistic', undefined, false, 'tls-verified', 'dane', false],
    [none, 'opportunistic', undefined, false, 'none', 'none', false],
    // TLS-Required: No waives what the destination proved, as it waives what it publishes.
    [none, 'opportunistic', undefined, true, 'tls-verified', 'none', false],
  ] as const)('%o, policy %s, sender %s, optional %s, held %s → %s (memory decides: %s)', (security, localPolicy, required, tlsOptional, level, minimum, held) => {
    const demand = hostDemand(security, { localPolicy, required, tlsOptional }, { level, provedBy: 'mx.d.test', until: 0 });
    expect(demand.minimum).toBe(minimum);
    expect(demand.held).toBe(held);
    if (held) expect(demand.because).toMatch(/mx\.d\.test proved before/);
  });
});
