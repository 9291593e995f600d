/**
 * RFC 4134's examples (test/fixtures/standards/rfc4134/, source and storage form in its README)
 * through our S/MIME layer: the RSA/SHA-1 SignedData of §4.2 and §4.5 verifies against CarlRSA;
 * what we do not read (DSA signatures, 3DES and RC2 content encryption) comes out as not valid or
 * refused by name. That each stored file is what the README says: rfc4134-fixtures.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCertificate, createSmimeProtector } from './index.ts';
import type { CertificateUse } from './index.ts';
import { parseCertificates } from './der.ts';

const DIR = path.resolve(import.meta.dirname, '../../../test/fixtures/standards/rfc4134');
const fixture = (name: string) => readFileSync(path.join(DIR, name));
/** RFC 4134's ExContent, what every example signs or encrypts. */
const CONTENT = 'This is some sample content.';
/** Inside every certificate's validity (1999 to 2039-12-31). */
const AT = new Date('2026-12-04T00:00:00Z');
const ALICE = 'alicersa@example.com';

/** A bare CMS example as the message it would travel in (RFC 8551 §3.2: application/pkcs7-mime, base64). */
function asMessage(der: Uint8Array, smimeType: string, from = 'AliceRSA@example.com'): Buffer {
  const base64 = Buffer.from(der).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `From: ${from}\r\nTo: BobRSA@example.com\r\nSubject: RFC 4134\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: application/pkcs7-mime; smime-type=${smimeType}; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64}\r\n`,
  );
}

const decryptionKey = (address: string, key: string, certificate: string) => ({ kind: 'smime' as const, address, key: fixture(key), certificates: [fixture(certificate)] });
const bob = decryptionKey('BobRSA@example.com', 'BobPrivRSAEncrypt.pri', 'BobRSASignByCarl.cer');
const diane = decryptionKey('DianeRSA@example.com', 'DianePrivRSASignEncrypt.pri', 'DianeRSASignByCarl.cer');

function unprotect(message: Uint8Array, { anchor = 'CarlRSASelf.cer', now = AT, keys = [bob] } = {}) {
  return createSmimeProtector().unprotect(message, { decryptionKeys: keys, verificationKeys: [], trustAnchors: [fixture(anchor)], now });
}

describe('RFC 4134 RSA signed-data through our layer', () => {
  for (const example of ['4.2', '4.5']) {
    it(`§${example} (RSA with SHA-1, no signed attributes, by AliceRSA) is valid against CarlRSASelf: our layer counts a SHA-1 signature by a 1024-bit RSA key as valid`, async () => {
      const result = await unprotect(asMessage(fixture(`${example}.bin`), 'signed-data'));
      expect(result.signature).toMatchObject({ state: 'valid', signer: ALICE, signedAt: null });
      expect(result.decrypted).toBe(false);
    });

    it(`§${example} is not trusted against CarlDSSSelf, and is invalid for another From or once Alice's certificate has expired`, async () => {
      const message = asMessage(fixture(`${example}.bin`), 'signed-data');
      expect((await unprotect(message, { anchor: 'CarlDSSSelf.cer' })).signature).toMatchObject({ state: 'unknown-key' });
      const forBob = await unprotect(asMessage(fixture(`${example}.bin`), 'signed-data', 'BobRSA@example.com'));
      expect(forBob.signature).toMatchObject({ state: 'invalid', reason: `the certificate names ${ALICE}, not bobrsa@example.com` });
      // No signing time in the example: the certificate is checked at the time of reading.
      const late = await unprotect(message, { now: new Date('2040-01-02T00:00:00Z') });
      expect(late.signature).toMatchObject({ state: 'invalid', reason: expect.stringContaining('the certificate expired on 2039-12-31') });
    });
  }

  it("one byte changed in §4.2's signed content makes the signature invalid", async () => {
    const changed = Buffer.from(fixture('4.2.bin'));
    const at = changed.indexOf(CONTENT);
    expect(at).toBeGreaterThan(0);
    changed[at + CONTENT.indexOf('sample')] = 'S'.charCodeAt(0);
    expect((await unprotect(asMessage(changed, 'signed-data'))).signature).toMatchObject({
      state: 'invalid',
      signer: ALICE,
      reason: 'the signature does not match the message (it was changed)',
    });
  });
});

/** What each RSA end-entity certificate's key usage allows (as openssl prints it). */
const CERTIFICATES: { file: string; address: string; allows: CertificateUse[]; refuses: CertificateUse[] }[] = [
  { file: 'AliceRSASignByCarl.cer', address: 'AliceRSA@example.com', allows: ['sign'], refuses: ['encrypt'] },
  { file: 'BobRSASignByCarl.cer', address: 'BobRSA@example.com', allows: ['encrypt'], refuses: ['sign'] },
  { file: 'DianeRSASignByCarl.cer', address: 'DianeRSA@example.com', allows: ['sign', 'encrypt'], refuses: [] },
];

describe('RFC 4134 RSA certificates through checkCertificate', () => {
  const carlRsa = parseCertificates([fixture('CarlRSASelf.cer')]);
  for (const { file, address, allows, refuses } of CERTIFICATES) {
    it(`${file} chains to CarlRSASelf for ${address} in its validity, may ${allows.join(' and ')}${refuses.length ? ` and may not ${refuses.join(', ')}` : ''}`, async () => {
      const [certificate] = parseCertificates([fixture(file)]);
      for (const use of allows) expect(await checkCertificate({ certificate, use, address, at: AT, trustAnchors: carlRsa })).toEqual({ ok: true });
      for (const use of refuses) expect(await checkCertificate({ certificate, use, address, at: AT, trustAnchors: carlRsa })).toMatchObject({ ok: false, problem: 'key-usage' });
      const use = allows[0];
      expect(await checkCertificate({ certificate, use, address, at: new Date('1999-01-01T00:00:00Z'), trustAnchors: carlRsa })).toMatchObject({ ok: false, problem: 'not-yet-valid' });
      expect(await checkCertificate({ certificate, use, address, at: new Date('2040-01-01T00:00:00Z'), trustAnchors: carlRsa })).toMatchObject({ ok: false, problem: 'expired' });
      const otherAnchor = parseCertificates([fixture('CarlDSSSelf.cer')]);
      expect(await checkCertificate({ certificate, use, address, at: AT, trustAnchors: otherAnchor })).toMatchObject({ ok: false, problem: 'untrusted' });
    });
  }
});

describe('RFC 4134 examples our layer does not read', () => {
  const dsaSignatureReason = expect.stringContaining('Unsupported signature algorithm: 1.2.840.10040.4.3');

  for (const example of ['4.1', '4.4', '4.6', '4.10']) {
    it(`§${example} (DSA with SHA-1, by AliceDSS) is invalid, the reason naming the unsupported signature algorithm (dsaWithSHA1)`, async () => {
      const result = await unprotect(asMessage(fixture(`${example}.bin`), 'signed-data', 'AliceDSS@example.com'), { anchor: 'CarlDSSSelf.cer' });
      expect(result.signature).toEqual({ state: 'invalid', signer: 'alicedss@example.com', keyId: expect.any(String), reason: dsaSignatureReason });
    });
  }

  for (const example of ['4.8', '4.9']) {
    it(`§${example}'s S/MIME message (DSA) is invalid for the same reason, and its content is delivered`, async () => {
      const result = await unprotect(fixture(`${example}.eml`), { anchor: 'CarlDSSSelf.cer' });
      expect(result.signature).toMatchObject({ state: 'invalid', signer: 'alicedss@example.com', reason: dsaSignatureReason });
      expect(Buffer.from(result.message).toString('latin1')).toMatch(new RegExp(`Subject: Example ${example.replace('.', '\\.')}\\r\\n[\\s\\S]*\\r\\n\\r\\n${CONTENT}$`));
    });
  }

  it('§4.7 (DSA, signer named by subjectKeyIdentifier) has no signer we can find: unknown-key', async () => {
    const result = await unprotect(asMessage(fixture('4.7.bin'), 'signed-data', 'AliceDSS@example.com'), { anchor: 'CarlDSSSelf.cer' });
    expect(result.signature).toEqual({ state: 'unknown-key', keyId: null, signedAt: null });
  });

  const refusal = (algorithm: string) => ({
    code: 550,
    enhanced: '5.7.6',
    message: `The S/MIME message is encrypted with ${algorithm}, which we do not decrypt (we read AES-CBC and AES-GCM).`,
  });
  const legacy: { example: string; message: () => Buffer; algorithm: string }[] = [
    { example: '§5.1', message: () => asMessage(fixture('5.1.bin'), 'enveloped-data'), algorithm: '3DES (des-ede3-cbc)' },
    { example: '§5.2', message: () => asMessage(fixture('5.2.bin'), 'enveloped-data'), algorithm: 'RC2 (rc2-cbc)' },
    { example: "§5.3's S/MIME message", message: () => fixture('5.3.eml'), algorithm: '3DES (des-ede3-cbc)' },
  ];
  for (const { example, message, algorithm } of legacy) {
    it(`${example} (${algorithm}, to BobRSA) is refused with Bob's key, naming the algorithm; without a key for it, passed on unchanged`, async () => {
      await expect(unprotect(message())).rejects.toMatchObject(refusal(algorithm));
      const notOurs = await unprotect(message(), { keys: [diane] });
      expect(notOurs).toEqual({ message: message(), decrypted: false, signature: null, malleable: false });
    });
  }

  const notSmime: { example: string; file: string; smimeType: string }[] = [
    { example: '§4.11 (certificates only)', file: '4.11.bin', smimeType: 'certs-only' },
    { example: '§6 (digested-data)', file: '6.0.bin', smimeType: 'digested-data' },
    { example: '§7.1 (encrypted-data)', file: '7.1.bin', smimeType: 'encrypted-data' },
    { example: '§7.2 (encrypted-data with unprotected attributes)', file: '7.2.bin', smimeType: 'encrypted-data' },
  ];
  for (const { example, file, smimeType } of notSmime) {
    it(`${example} is no signed or enveloped message: passed on unchanged`, async () => {
      const message = asMessage(fixture(file), smimeType);
      expect(await unprotect(message)).toEqual({ message, decrypted: false, signature: null, malleable: false });
    });
  }
});
