import { describe, expect, it } from 'vitest';
import { hasBidiControls, stripBidiControls } from './display-text.ts';

describe('stripBidiControls', () => {
  it.each([
    ['inv\u202Efdp.exe', 'invfdp.exe'],
    ['\u202Ahello\u202C \u202Bworld\u202C', 'hello world'],
    ['a\u202Db\u202Ec', 'abc'],
    ['\u2066x\u2067y\u2068z\u2069', 'xyz'],
    ['mark\u200E\u200F\u061C', 'mark'],
    ['plain subject', 'plain subject'],
    ['שלום עולם', 'שלום עולם'],
    ['emoji 👩‍💻 keeps its ZWJ', 'emoji 👩‍💻 keeps its ZWJ'],
    ['', ''],
  ])('%j → %j', (input, output) => {
    expect(stripBidiControls(input)).toBe(output);
    expect(hasBidiControls(stripBidiControls(input))).toBe(false);
  });

  it('finds every control in the ranges', () => {
    for (const code of [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069]) {
      expect(hasBidiControls(`a${String.fromCodePoint(code)}b`), code.toString(16)).toBe(true);
    }
    expect(hasBidiControls('a\u200Db')).toBe(false);
  });
});
