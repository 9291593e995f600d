import { describe, expect, it } from 'vitest';
import { parseSecureHeader } from './secure-header.ts';

describe('Sealgate-Secure header', () => {
  it.each([
    [undefined, { verification: 'code' }],
    ['yes', { verification: 'code' }],
    ['LINK', { verification: 'link' }],
    ['code', { verification: 'code' }],
    ['passphrase = blue river stone', { verification: 'passphrase', passphraseOrAnswer: 'blue river stone' }],
    ['question=Name of our first patient?; answer= Miller', { verification: 'question', question: 'Name of our first patient?', passphraseOrAnswer: 'Miller' }],
    ['question=Folded\r\n\tquestion?; answer=x', { verification: 'question', question: 'Folded question?', passphraseOrAnswer: 'x' }],
  ] as const)('%s', (value, expected) => {
    expect(parseSecureHeader(value, 'code')).toEqual(expected);
  });

  it('refuses what it cannot read, saying what it accepts', () => {
    expect(() => parseSecureHeader('pigeon', 'code')).toThrow(/use yes, link, code/);
    expect(() => parseSecureHeader('question=no answer given', 'code')).toThrow(/Sealgate-Secure/);
  });
});
