import { describe, expect, it } from 'vitest';
import { encodeHeaderLine } from './header-bytes.ts';

describe('encodeHeaderLine', () => {
  it('writes a field ending in CRLF', () => {
    expect(encodeHeaderLine('Message-ID', '<a@b>').toString('latin1')).toBe('Message-ID: <a@b>\r\n');
  });

  it('folds long values at blanks', () => {
    const value = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const lines = encodeHeaderLine('Subject', value).toString('latin1').split('\r\n');
    expect(lines.every((l) => l.length <= 78)).toBe(true);
    expect(lines.slice(1, -1).every((l) => l.startsWith('\t'))).toBe(true);
  });

  it.each(['a\rb', 'a\nb', 'a\0b', 'a\u010d\u010ab'])('refuses %j unless it encodes to harmless bytes', (value) => {
    if (/[\r\n\0]/.test(value)) expect(() => encodeHeaderLine('X-Test', value)).toThrow(/control character/);
    else expect(() => encodeHeaderLine('X-Test', value)).toThrow(/8-bit/);
    if (!/[\r\n\0]/.test(value)) expect(encodeHeaderLine('X-Test', value, { utf8: true }).includes(Buffer.from('\r\nb'))).toBe(false);
  });

  it('refuses a bad field name', () => {
    expect(() => encodeHeaderLine('Bad Name', 'x')).toThrow();
    expect(() => encodeHeaderLine('Bcc:', 'x')).toThrow();
  });
});
