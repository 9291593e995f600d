import { describe, expect, it } from 'vitest';
import { effectiveTlsPolicy } from './tls.ts';

describe('effectiveTlsPolicy', () => {
  it.each([
    ['opportunistic', undefined, 'opportunistic'],
    ['opportunistic', 'none', 'opportunistic'],
    ['opportunistic', 'tls', 'required'],
    ['opportunistic', 'tls-verified', 'verified'],
    ['required', 'tls-verified', 'verified'],
    ['verified', 'none', 'verified'],
    ['verified', 'tls', 'verified'],
    ['required', 'none', 'required'],
  ] as const)('domain %s + sender requires %s → %s', (domain, required, expected) => {
    expect(effectiveTlsPolicy(domain, required)).toBe(expected);
  });
});
