import { describe, expect, it } from 'vitest';
import { formatRfc5322Date, makeMessageId } from './message-id.ts';

describe('makeMessageId', () => {
  it('is <random@hostname> and unique', () => {
    const id = makeMessageId('gw.example.test');
    expect(id).toMatch(/^<[A-Za-z0-9_-]{16}@gw\.example\.test>$/);
    expect(new Set(Array.from({ length: 1000 }, () => makeMessageId('h'))).size).toBe(1000);
  });

  it('cannot be broken by a bad hostname', () => {
    expect(makeMessageId('evil>\r\nBcc: x@y')).toMatch(/^<[A-Za-z0-9_-]+@evilBccxy>$/);
    expect(makeMessageId('')).toMatch(/@localhost>$/);
    expect(makeMessageId('[192.0.2.1]')).toMatch(/@\[192\.0\.2\.1\]>$/);
  });
});

describe('formatRfc5322Date', () => {
  it.each([
    [Date.UTC(2026, 10, 24, 14, 47, 40), 'Tue, 24 Nov 2026 14:47:40 +0000'],
    [Date.UTC(2027, 0, 3, 4, 5, 6), 'Sun, 03 Jan 2027 04:05:06 +0000'],
    [Date.UTC(2024, 1, 29, 23, 59, 59), 'Thu, 29 Feb 2024 23:59:59 +0000'],
  ])('%s', (ms, expected) => {
    expect(formatRfc5322Date(new Date(ms))).toBe(expected);
  });

  it('refuses an invalid date', () => {
    expect(() => formatRfc5322Date(new Date(Number.NaN))).toThrow(RangeError);
  });
});
