import { describe, expect, it } from 'vitest';
import type { SMTPServerSession } from 'smtp-server';
import { checkHeaderSenders, checkInboundSender, ownsSender } from './sender-check.ts';

describe('sender ownership', () => {
  const owned = { addresses: ['alice@corp.test', 'sales@corp.test'], domains: ['branch.test'] };
  it.each([
    ['alice@corp.test', true],
    ['ALICE@Corp.Test', true],
    ['sales@corp.test', true],
    ['anyone@branch.test', true],
    ['anyone@BRANCH.test', true],
    ['x@sub.branch.test', false],
    ['bob@corp.test', false],
    ['alice@corp.test.evil.example', false],
    ['"alice@corp.test"@evil.example', false],
    ['', false],
    ['not an address', false],
  ])('%j → %s', (address, expected) => {
    expect(ownsSender(address, owned)).toBe(expected);
  });

  it('refuses inbound senders in our own domains unless allowed; the null sender passes', () => {
    const domains = { 'corp.test': {}, 'lists.test': { allowExternalSenders: true } };
    expect(checkInboundSender('ceo@Corp.TEST', domains)).toMatchObject({ code: 550, enhanced: '5.7.1' });
    expect(checkInboundSender('news@lists.test', domains)).toBeNull();
    expect(checkInboundSender('x@elsewhere.test', domains)).toBeNull();
    expect(checkInboundSender('', domains)).toBeNull();
  });

  it.each([
    ['From: alice@corp.test bob@corp.test', false],
    ['From: <alice@corp.test>bob@corp.test', false],
    ['From: A <alice@corp.test> <bob@corp.test>', false],
    ['From: "bob@corp.test" <alice@corp.test>', true],
    ['From: ((bob@corp.test) x) alice@corp.test', true],
    ['From: "a \\" bob@corp.test" <alice@corp.test>', true],
    ['From: Team: alice@corp.test;', true],
  ])('header %j owned: %s', (field, expected) => {
    const session = { user: 'alice@corp.test' } as unknown as SMTPServerSession;
    expect(checkHeaderSenders(session, `${field}\r\n\r\n`) === null).toBe(expected);
  });
});
