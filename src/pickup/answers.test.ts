import { describe, expect, it } from 'vitest';
import { answerRefusal, legacyAnswerForm, normalizeAnswer } from './answers.ts';

describe('normalizeAnswer', () => {
  it.each([
    ['  St. Mary\'s   Hospital ', 'st marys hospital'],
    ['ST MARYS HOSPITAL', 'st marys hospital'],
    ['St Mary’s Hospital!', 'st marys hospital'],
    ['Jean-Luc', 'jean luc'],
    ['jean – luc', 'jean luc'],
    ['Straße', 'strasse'],
    ['STRASSE', 'strasse'],
    ['ΣΟΦΟΣ', 'σοφοσ'],
    ['σοφος', 'σοφοσ'],
    ['ﬁsh', 'fish'],
    ['Ｍｉｌｌｅｒ', 'miller'],
    ['Müller', 'müller'],
    ['Mu\u0308ller', 'müller'],
    ['a\tb\u00a0c\n', 'a b c'],
    ['O`Brien', 'obrien'],
    ['1/2', '1 2'],
    ['C++ & 5€', 'c++ 5€'],
    ['Smi\u00adth', 'smith'],
    ['Sm\u200bith\ufeff', 'smith'],
    ['Jo\u2060hn', 'john'],
  ])('%j → %j', (given, expected) => {
    expect(normalizeAnswer(given)).toBe(expected);
  });

  it('is idempotent, so compose may store the normalised form and the portal normalise again', () => {
    for (const sample of ['St. Mary\'s', 'Straße', 'Jean-Luc', 'ﬁ', 'İstanbul', '  x  ', '¿Qué?']) {
      expect(normalizeAnswer(normalizeAnswer(sample))).toBe(normalizeAnswer(sample));
    }
  });

  it('keeps letters apart: different answers stay different', () => {
    expect(normalizeAnswer('Miller')).not.toBe(normalizeAnswer('Muller'));
    expect(normalizeAnswer('blue whale')).not.toBe(normalizeAnswer('bluewhale'));
  });

  it('legacy form (before issue 10) ignored only case and spaces', () => {
    expect(legacyAnswerForm("  St. Mary's ")).toBe("st. mary's");
  });
});

describe('answerRefusal', () => {
  it.each(['???', '--', '…', ' . ', '\u200b', '\u00ad'])('refuses %j: nothing is left to compare', (answer) => {
    expect(answerRefusal(answer)).toMatch(/no letters or digits/);
  });
  it.each(['x', '7', '€', 'St. Mary’s'])('accepts %j', (answer) => {
    expect(answerRefusal(answer)).toBeNull();
  });
});
