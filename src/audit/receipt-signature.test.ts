import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { receiptBytes, receiptSigner, verifyReceipt, type ReceiptDocument } from './receipt-signature.ts';

const seed = (byte: number) => Buffer.alloc(32, byte);

const document: ReceiptDocument = {
  format: 'sealgate-receipt-v1',
  kind: 'delivered',
  messageId: 'M1',
  mailFrom: 'alice@example.test',
  recipient: 'bob@partner.test',
  at: '2026-12-03T12:00:00.000Z',
  mxHost: 'mx.partner.test',
  ip: '127.0.0.1',
  port: 25,
  tlsVersion: 'TLSv1.3',
  cipher: 'TLS_AES_256_GCM_SHA384',
  certSubject: 'CN=mx.partner.test',
  certFingerprint: 'ab'.repeat(32),
  certVerified: true,
  reply: '250 2.0.0 Ok: queued as 4Xyz',
  route: 'link',
  routeReason: 'no rule asks for more',
  messageSha256: 'cd'.repeat(32),
};

describe('receipt signatures', () => {
  it('signs the canonical bytes: sorted keys, no whitespace, whatever order the fields were built in', () => {
    const reordered = Object.fromEntries(Object.entries(document).reverse()) as unknown as ReceiptDocument;
    expect(receiptBytes(reordered).equals(receiptBytes(document))).toBe(true);
    const text = receiptBytes(document).toString('utf8');
    expect(text.startsWith('{"at":"2026-12-03T12:00:00.000Z","certFingerprint":')).toBe(true);
    expect(text).not.toMatch(/\s"|":\s/);
  });

  it('verifies an untouched receipt and returns what it says', () => {
    const signer = receiptSigner(seed(1));
    const { signed, signature } = signer.sign(document);
    const result = verifyReceipt(signed, signature, signer.publicKeyPem);
    expect(result).toEqual({ valid: true, document });
  });

  it('fails when any one byte of the signed bytes is changed', () => {
    const signer = receiptSigner(seed(1));
    const { signed, signature } = signer.sign(document);
    const bytes = Buffer.from(signed, 'utf8');
    for (const at of [0, bytes.indexOf('TLSv1.3') + 5, bytes.indexOf('250 2.0.0'), bytes.length - 1]) {
      const changed = Buffer.from(bytes);
      changed[at] ^= 0x01;
      const result = verifyReceipt(changed, signature, signer.publicKeyPem);
      expect(result.valid, `byte ${at}`).toBe(false);
    }
  });

  it('fails under another key', () => {
    const signer = receiptSigner(seed(1));
    const other = receiptSigner(seed(2));
    const { signed, signature } = signer.sign(document);
    expect(verifyReceipt(signed, signature, other.publicKeyPem)).toMatchObject({ valid: false, reason: expect.stringContaining('another key') });
    expect(verifyReceipt(signed, other.sign(document).signature, signer.publicKeyPem).valid).toBe(false);
    expect(signer.publicKeyPem).not.toBe(other.publicKeyPem);
  });

  it('refuses signed bytes that are not a receipt in canonical form', () => {
    const signer = receiptSigner(seed(1));
    // A validly signed document in another form: the same fields with whitespace.
    const spaced = JSON.stringify(JSON.parse(signer.sign(document).signed), null, 1);
    const fake = { ...signer.sign(document), signed: spaced };
    expect(verifyReceipt(fake.signed, fake.signature, signer.publicKeyPem).valid).toBe(false);
    expect(verifyReceipt(signer.sign(document).signed, 'AAAA', signer.publicKeyPem)).toMatchObject({ valid: false, reason: expect.stringContaining('64') });
  });

  it('is checked by openssl pkeyutl with the published PEM, as the docs say', () => {
    const signer = receiptSigner(seed(7));
    const { signed, signature } = signer.sign(document);
    const dir = mkdtempSync(path.join(tmpdir(), 'receipt-'));
    writeFileSync(path.join(dir, 'key.pem'), signer.publicKeyPem);
    writeFileSync(path.join(dir, 'r.bin'), signed);
    writeFileSync(path.join(dir, 'r.sig'), Buffer.from(signature, 'base64'));
    const args = ['pkeyutl', '-verify', '-pubin', '-inkey', 'key.pem', '-rawin', '-in', 'r.bin', '-sigfile', 'r.sig'];
    expect(execFileSync('openssl', args, { cwd: dir, encoding: 'utf8' })).toContain('Signature Verified Successfully');
    const changed = Buffer.from(signed);
    changed[10] ^= 0x01;
    writeFileSync(path.join(dir, 'r.bin'), changed);
    expect(() => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })).toThrow();
  });
});
