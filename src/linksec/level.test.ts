import { describe, expect, it } from 'vitest';
import { levelOf, meets } from './level.ts';

describe('link levels', () => {
  it.each([
    [{ tlsVersion: null, certValid: false }, 'none'],
    [{ tlsVersion: 'TLSv1.3', certValid: false }, 'tls'],
    [{ tlsVersion: 'TLSv1.2', certValid: true }, 'tls-verified'],
  ] as const)('%o is %s', (observation, level) => {
    expect(levelOf(observation)).toBe(level);
  });

  it('orders levels', () => {
    expect(meets('tls-verified', 'tls')).toBe(true);
    expect(meets('tls', 'tls-verified')).toBe(false);
    expect(meets('none', 'none')).toBe(true);
  });
});
