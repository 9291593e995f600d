/**
 * RFC 9216's published private keys other than Alice's signing key (§4.4 Alice's decryption
 * key, §5.2 Bob's signing key, §5.4 Bob's decryption key; test/fixtures/standards/rfc9216/,
 * sources in its README): each belongs to the certificate the RFC pairs it with, and what we
 * encrypt to the RFC's certificates opens with the RFC's keys, in our layer and in OpenSSL.
 */
import { createPublicKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPeers } from '../../../test/helpers/peers.ts';
import { SAMPLE_MESSAGE } from '../../../test/integration/18-smime/pki.ts';
import { createSmimeProtector } from './index.ts';

const DIR = path.resolve(import.meta.dirname, '../../../test/fixtures/standards/rfc9216');
const fixture = (name: string) => readFileSync(path.join(DIR, name));
const now = new Date('2026-12-02T00:00:00Z');
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
const MESSAGE = Buffer.from(SAMPLE_MESSAGE.replace(/alice@example\.test/g, 'alice@smime.example').replace(/bob@example\.test/g, 'bob@smime.example'));
const anchors = () => [fixture('rsa-ca-cert.pem')];
const holder = (address: string, key: string, cert: string) => ({ kind: 'smime' as const, address, key: fixture(key), certificates: [fixture(cert)] });
const alice = { sign: () => holder('alice@smime.example', 'alice-sign-key.pem', 'alice-sign-cert.pem'), decrypt: () => holder('alice@smime.example', 'alice-enc-key.pem', 'alice-enc-cert.pem') };
const bob = { sign: () => holder('bob@smime.example', 'bob-sign-key.pem', 'bob-sign-cert.pem'), decrypt: () => holder('bob@smime.example', 'bob-enc-key.pem', 'bob-enc-cert.pem') };
const recipient = (address: string, cert: string) => ({ kind: 'smime' as const, address, data: fixture(cert) });

describe('RFC 9216 private keys (§4.4, §5.2, §5.4)', () => {
  for (const [key, cert] of [
    ['alice-enc-key.pem', 'alice-enc-cert.pem'],
    ['bob-sign-key.pem', 'bob-sign-cert.pem'],
    ['bob-enc-key.pem', 'bob-enc-cert.pem'],
  ] as const) {
    it(`${key} is the private half of ${cert}`, () => {
      const fromKey = createPublicKey(fixture(key)).export({ format: 'der', type: 'spki' });
      const fromCert = createPublicKey(fixture(cert)).export({ format: 'der', type: 'spki' });
      expect(Buffer.compare(fromKey, fromCert)).toBe(0);
    });
  }

  it("what Bob signs with his §5.2 key verifies against the sample RSA CA, signer bob@smime.example", async () => {
    const fromBob = Buffer.from(text(MESSAGE).replace(/^From: .*$/m, 'From: Bob <bob@smime.example>'), 'latin1');
    const protector = createSmimeProtector();
    const signed = await protector.protect(fromBob, { sign: true, encrypt: false, recipients: [], signer: bob.sign(), now });
    const result = await protector.unprotect(signed, { decryptionKeys: [], verificationKeys: [], trustAnchors: anchors(), now });
    expect(result.signature).toMatchObject({ state: 'valid', signer: 'bob@smime.example' });
  });

  it("Alice signs and encrypts to Bob's §5.3 certificate: Bob's §5.4 key opens it, Alice's §4.4 key (not a recipient) does not", async () => {
    const protector = createSmimeProtector({ recipientTrustAnchors: anchors() });
    const sealed = await protector.protect(MESSAGE, { sign: true, encrypt: true, recipients: [recipient('bob@smime.example', 'bob-enc-cert.pem')], signer: alice.sign(), now });
    const opened = await protector.unprotect(sealed, { decryptionKeys: [bob.decrypt()], verificationKeys: [], trustAnchors: anchors(), now });
    expect(opened).toMatchObject({ decrypted: true, signature: { state: 'valid', signer: 'alice@smime.example' } });
    expect(text(opened.message)).toContain('Revenue is up.');
    const notForAlice = await protector.unprotect(sealed, { decryptionKeys: [alice.decrypt()], verificationKeys: [], trustAnchors: anchors(), now });
    expect(notForAlice.decrypted).toBe(false);
    expect(text(notForAlice.message)).not.toContain('Revenue is up.');
  });
});

describeWithPeers(['openssl'], 'RFC 9216 private keys against openssl', () => {
  let dir: string;
  const openssl = (args: string[], input: string | Uint8Array = '') => execFileSync('openssl', args, { input, cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sealgate-rfc9216-keys-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("openssl cms -decrypt with Bob's §5.4 key opens what we encrypt to his §5.3 certificate; Alice's signature inside verifies", async () => {
    const protector = createSmimeProtector({ recipientTrustAnchors: anchors() });
    const sealed = await protector.protect(MESSAGE, { sign: true, encrypt: true, recipients: [recipient('bob@smime.example', 'bob-enc-cert.pem')], signer: alice.sign(), now });
    writeFileSync(path.join(dir, 'to-bob.eml'), sealed);
    const inner = openssl(['cms', '-decrypt', '-in', 'to-bob.eml', '-recip', path.join(DIR, 'bob-enc-cert.pem'), '-inkey', path.join(DIR, 'bob-enc-key.pem')]);
    const attime = String(Math.floor(now.getTime() / 1000));
    const payload = openssl(['cms', '-verify', '-CAfile', path.join(DIR, 'rsa-ca-cert.pem'), '-purpose', 'smimesign', '-attime', attime], inner).toString();
    expect(payload).toContain('Subject: Quarterly numbers');
    expect(payload).toContain('Revenue is up.');
    // Alice's decryption key is not a recipient's: openssl refuses it.
    expect(() => openssl(['cms', '-decrypt', '-in', 'to-bob.eml', '-inkey', path.join(DIR, 'alice-enc-key.pem')])).toThrow();
  });

  for (const cipher of ['-aes-128-cbc', '-aes-256-cbc', '-aes-256-gcm'] as const) {
    it(`our layer opens with Alice's §4.4 key what openssl cms -encrypt ${cipher} sends to her §4.3 certificate`, async () => {
      const message = `From: Bob <bob@smime.example>\r\nTo: Alice <alice@smime.example>\r\nSubject: from openssl\r\nContent-Type: text/plain\r\n\r\nThe key is under the mat.\r\n`;
      writeFileSync(path.join(dir, 'plain.eml'), message);
      const sealed = openssl(['cms', '-encrypt', '-in', 'plain.eml', cipher, path.join(DIR, 'alice-enc-cert.pem')]);
      const opened = await createSmimeProtector().unprotect(sealed, { decryptionKeys: [alice.decrypt()], verificationKeys: [], trustAnchors: anchors(), now });
      expect(opened).toMatchObject({ decrypted: true, signature: null });
      expect(text(opened.message)).toContain('The key is under the mat.');
    });
  }
});
