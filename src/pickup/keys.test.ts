import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  deriveSecretShare, isPickupError, isWellFormedPassword, newDataKey, newMessagePassword, normalizePassword,
  openValue, sealValue, unwrapDataKey, wrapDataKey,
} from './keys.ts';

const expectWrong = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(isPickupError(error, 'wrong-credentials')).toBe(true);
    return;
  }
  throw new Error('expected wrong-credentials');
};

describe('message password', () => {
  it('is 140 random bits in groups of four Crockford base32 characters', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const password = newMessagePassword();
      expect(password).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}$/);
      expect(isWellFormedPassword(password)).toBe(true);
      seen.add(password);
    }
    expect(seen.size).toBe(200);
    // Every character of the alphabet turns up, so no bits are stuck.
    const chars = new Set([...[...seen].join('').replace(/-/g, '')]);
    expect(chars.size).toBe(32);
  });

  it('normalizes what a person types: case, spaces, dashes, O/I/L', () => {
    expect(normalizePassword('abcd-efgh ijkl mnop')).toBe('ABCDEFGH1JK1MN0P');
    expect(normalizePassword(' 0o1i-lL ')).toBe('001111');
    expect(isWellFormedPassword('too-short')).toBe(false);
    expect(isWellFormedPassword('UUUU-UUUU-UUUU-UUUU-UUUU-UUUU-UUUU')).toBe(false);
  });
});

describe('data key wrapping', () => {
  const serverShare = randomBytes(32);
  const messageId = 'msg-1';
  const messagePassword = newMessagePassword();

  it('round-trips and accepts the password as typed by hand', () => {
    const dek = newDataKey();
    const wrapped = wrapDataKey(dek, { serverShare, messagePassword, messageId });
    expect(wrapped.length).toBe(1 + 16 + 12 + 16 + 32);
    expect(unwrapDataKey(wrapped, { serverShare, messagePassword, messageId }).equals(dek)).toBe(true);
    const typed = messagePassword.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o').replace(/1/g, 'l');
    expect(unwrapDataKey(wrapped, { serverShare, messagePassword: typed, messageId }).equals(dek)).toBe(true);
  });

  it('fails with a typed error on a wrong password, share, message id or a changed blob', () => {
    const wrapped = wrapDataKey(newDataKey(), { serverShare, messagePassword, messageId });
    expectWrong(() => unwrapDataKey(wrapped, { serverShare, messagePassword: newMessagePassword(), messageId }));
    expectWrong(() => unwrapDataKey(wrapped, { serverShare: randomBytes(32), messagePassword, messageId }));
    expectWrong(() => unwrapDataKey(wrapped, { serverShare, messagePassword, messageId: 'msg-2' }));
    const tampered = Buffer.from(wrapped);
    tampered[tampered.length - 1] ^= 1;
    expectWrong(() => unwrapDataKey(tampered, { serverShare, messagePassword, messageId }));
  });

  it('needs the secret share when one was used, and only the right one', () => {
    const dek = newDataKey();
    const secretShare = randomBytes(32);
    const wrapped = wrapDataKey(dek, { serverShare, messagePassword, secretShare, messageId });
    expect(unwrapDataKey(wrapped, { serverShare, messagePassword, secretShare, messageId }).equals(dek)).toBe(true);
    expectWrong(() => unwrapDataKey(wrapped, { serverShare, messagePassword, messageId }));
    expectWrong(() => unwrapDataKey(wrapped, { serverShare, messagePassword, secretShare: randomBytes(32), messageId }));
  });
});

describe('secret share (Argon2id)', () => {
  it('is 32 bytes, depends on the salt, and matches answers loosely but passphrases exactly', async () => {
    const salt = randomBytes(16);
    const answer = await deriveSecretShare('  Blue   Whale ', salt, 'answer');
    expect(answer.length).toBe(32);
    expect((await deriveSecretShare('blue whale', salt, 'answer')).equals(answer)).toBe(true);
    expect((await deriveSecretShare('blue whale', randomBytes(16), 'answer')).equals(answer)).toBe(false);
    const passphrase = await deriveSecretShare('Correct Horse', salt, 'passphrase');
    expect((await deriveSecretShare(' Correct Horse ', salt, 'passphrase')).equals(passphrase)).toBe(true);
    expect((await deriveSecretShare('correct horse', salt, 'passphrase')).equals(passphrase)).toBe(false);
  });
});

describe('sealed values', () => {
  it('open only under the same key and place', () => {
    const key = newDataKey();
    const sealed = sealValue(key, Buffer.from('Quarterly figures'), 'id/subject');
    expect(openValue(key, sealed, 'id/subject').toString()).toBe('Quarterly figures');
    expect(() => openValue(key, sealed, 'id/0/filename')).toThrow(/damaged/);
    expect(() => openValue(newDataKey(), sealed, 'id/subject')).toThrow(/damaged/);
  });
});
