import { describe, expect, it } from 'vitest';
import { isRoutableRecipient, parseAddress } from './address.ts';

describe('parseAddress', () => {
  it.each([
    ['Bob@Example.TEST', { local: 'Bob', domain: 'example.test' }],
    ['anna@bücher.test', { local: 'anna', domain: 'xn--bcher-kva.test' }],
    ['anna@ＢÜCHER.test', { local: 'anna', domain: 'xn--bcher-kva.test' }],
    ['"a b"@x.test', { local: '"a b"', domain: 'x.test' }],
    ['"a@b"@x.test', { local: '"a@b"', domain: 'x.test' }],
    ['"a\\"b"@x.test', { local: '"a\\"b"', domain: 'x.test' }],
    ['user@x.test.', { local: 'user', domain: 'x.test' }],
    ['u%v@x.test', { local: 'u%v', domain: 'x.test' }],
    ['ünïcode@x.test', { local: 'ünïcode', domain: 'x.test' }],
    ['u@[192.0.2.1]', { local: 'u', domain: '[192.0.2.1]' }],
    [`${'s'.repeat(100)}@srs.test`, { local: 's'.repeat(100), domain: 'srs.test' }],
  ])('%s', (address, expected) => {
    expect(parseAddress(address)).toEqual(expected);
  });

  it.each([
    '', 'nodomain', 'a@', '@x.test', 'a@bad_domain', 'a@bad!domain', 'a@-x.test', 'a@x..test', 'a@x%41.test',
    'a b@x.test', 'a<b@x.test', 'a\r\n@x.test', '"unclosed@x.test', '"a"b@x.test', '"a"@', 'a@[not-an-ip]',
    'a@x test', `a@${'b'.repeat(64)}.test`, `a@${'b.'.repeat(130)}test`, 'a@1.2.3.4', 'a@0x7f.1', 'a\ud800@x.test',
    `${'a'.repeat(400)}@x.test`,
  ])('rejects %j', (address) => {
    expect(parseAddress(address)).toBeNull();
  });
});

describe('isRoutableRecipient', () => {
  it.each([
    // source routes
    ['@relay.test:victim@elsewhere.test', false],
    ['@a.test,@b.test:victim@elsewhere.test', false],
    ['<@a.test:victim@elsewhere.test>', false],
    // %-hacks and bang paths
    ['victim%elsewhere.test@clinic.test', false],
    ['victim%elsewhere.test%@clinic.test', false],
    ['elsewhere.test!victim@clinic.test', false],
    ['victim＠elsewhere.test@clinic.test', false],
    ['victim％elsewhere.test@clinic.test', false],
    ['elsewhere！victim@clinic.test', false],
    // quoted local parts hiding routing characters
    ['"victim@elsewhere.test"@clinic.test', false],
    ['"victim%elsewhere"@clinic.test', false],
    ['"elsewhere!victim"@clinic.test', false],
    ['"victim\\@elsewhere.test"@clinic.test', false],
    ['""@clinic.test', false],
    // literals, sizes, missing parts
    ['victim@[127.0.0.1]', false],
    ['victim@[IPv6:::1]', false],
    ['victim@127.0.0.1', false],
    [`${'a'.repeat(65)}@clinic.test`, false],
    [`${'é'.repeat(33)}@clinic.test`, false], // 66 octets
    [`a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(63)}.test`, false],
    ['victim', false],
    ['victim@', false],
    ['@clinic.test', false],
    ['', false],
    // ordinary recipients
    [`${'a'.repeat(64)}@clinic.test`, true],
    ['doctor@clinic.test', true],
    ['Doctor@CLINIC.test', true],
    ['dr.who+tag@clinic.test', true],
    ['"dr who"@clinic.test', true],
    ['ärztin@klinik.test', true],
    ['doctor@klinik-bücher.test', true],
  ])('%j routable: %s', (address, expected) => {
    expect(isRoutableRecipient(address)).toBe(expected);
  });
});
