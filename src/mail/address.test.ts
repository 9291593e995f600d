import { describe, expect, it } from 'vitest';
import { isRoutableRecipient, parseAddress } from './address.ts';

describe('addresses', () => {
  it('parses and normalises the domain', () => {
    expect(parseAddress('Bob@Example.TEST')).toEqual({ local: 'Bob', domain: 'example.test' });
    expect(parseAddress('anna@bücher.test')).toEqual({ local: 'anna', domain: 'xn--bcher-kva.test' });
    expect(parseAddress('"a b"@x.test')).toEqual({ local: '"a b"', domain: 'x.test' });
    expect(parseAddress('nodomain')).toBeNull();
    expect(parseAddress('a@')).toBeNull();
    expect(parseAddress('a@bad_domain!')).toBeNull();
  });

  it.each([
    ['@relay.test:victim@elsewhere.test', false],
    ['@a.test,@b.test:victim@elsewhere.test', false],
    ['victim%elsewhere.test@clinic.test', false],
    ['elsewhere.test!victim@clinic.test', false],
    ['"victim@elsewhere.test"@clinic.test', false],
    ['"victim%elsewhere"@clinic.test', false],
    ['victim@[127.0.0.1]', false],
    [`${'a'.repeat(65)}@clinic.test`, false],
    ['doctor@clinic.test', true],
    ['dr.who+tag@clinic.test', true],
    ['"dr who"@clinic.test', true],
  ])('%s routable: %s', (address, expected) => {
    expect(isRoutableRecipient(address)).toBe(expected);
  });
});
