/**
 * S/MIME against OpenSSL's `openssl cms`, both ways: what OpenSSL encrypts (CBC, GCM
 * auth-enveloped), signs, or signs then encrypts, our unprotect reads; what we protect,
 * `openssl cms -decrypt` and `-verify` accept.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeers } from '../../helpers/peers.ts';
import { createSmimeProtector } from '../../../src/e2e/smime/index.ts';
import type { PrivateKeyMaterial, PublicKeyMaterial } from '../../../src/e2e/index.ts';
import { createTestPki, SAMPLE_MESSAGE } from './pki.ts';
import type { TestPki } from './pki.ts';

let pki: TestPki;
let now: Date;
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

function cms(args: string[], input: string | Uint8Array): Buffer {
  return execFileSync('openssl', ['cms', ...args], { input, cwd: pki.dir, stdio: ['pipe', 'pipe', 'pipe'] });
}
function privateKey(name: string): PrivateKeyMaterial {
  const user = pki.user(name);
  return { kind: 'smime', address: user.address, key: user.key, certificates: [user.cert] };
}
function publicKey(name: string): PublicKeyMaterial {
  const user = pki.user(name);
  return { kind: 'smime', address: user.address, data: user.cert };
}
/** The message's headers stay outside; openssl wraps the MIME body, as a mail client would. */
const HEADERS = SAMPLE_MESSAGE.slice(0, SAMPLE_MESSAGE.indexOf('MIME-Version'));
const BODY_ENTITY = 'Content-Type: text/plain; charset=utf-8\r\n\r\nThe numbers are in.\r\nRevenue is up.\r\n';

describeWithPeers(['openssl'], 'S/MIME with openssl cms', () => {
  beforeAll(() => {
    pki = createTestPki([
      { name: 'alice', address: 'alice@example.test', key: 'rsa' },
      { name: 'bob', address: 'bob@example.test', key: 'rsa' },
      { name: 'carol', address: 'carol@example.test', key: 'ec' },
    ]);
    now = new Date(Date.now() + 2000);
    writeFileSync(join(pki.dir, 'body.eml'), BODY_ENTITY);
  }, 60_000);
  afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

  const read = (sealed: Buffer, reader: string) =>
    createSmimeProtector().unprotect(new Uint8Array(sealed), { decryptionKeys: [privateKey(reader)], verificationKeys: [], trustAnchors: [pki.ca], now });

  for (const [cipher, reader] of [['-aes-256-cbc', 'bob'], ['-aes-256-gcm', 'bob'], ['-aes-256-cbc', 'carol'], ['-aes-256-gcm', 'carol']] as const) {
    it(`reads openssl cms -encrypt ${cipher} to ${reader}`, async () => {
      const sealed = cms(['-encrypt', cipher, '-in', 'body.eml', '-from', 'alice@example.test', '-to', pki.user(reader).address, '-subject', 'Quarterly numbers', pki.user(reader).certPath], '');
      const result = await read(sealed, reader);
      expect(result.decrypted).toBe(true);
      expect(result.malleable).toBe(cipher === '-aes-256-cbc');
      expect(text(result.message)).toContain('Revenue is up.');
      expect(text(result.message)).toContain('Subject: Quarterly numbers');
    });
  }

  it('reads openssl cms -sign (detached) with a valid verdict, and a tampered one as invalid', async () => {
    const signed = cms(['-sign', '-in', 'body.eml', '-signer', pki.user('alice').certPath, '-inkey', pki.user('alice').keyPath, '-md', 'sha256'], '');
    const message = Buffer.concat([Buffer.from(HEADERS, 'latin1'), signed]);
    const result = await createSmimeProtector().unprotect(new Uint8Array(message), { decryptionKeys: [], verificationKeys: [], trustAnchors: [pki.ca], now });
    expect(result.signature).toMatchObject({ state: 'valid', signer: 'alice@example.test' });
    expect(result.signature?.state === 'valid' && result.signature.signedAt).toBeInstanceOf(Date);
    const tampered = Buffer.from(text(message).replace('Revenue is up.', 'Revenue is 0.'), 'latin1');
    const bad = await createSmimeProtector().unprotect(new Uint8Array(tampered), { decryptionKeys: [], verificationKeys: [], trustAnchors: [pki.ca], now });
    expect(bad.signature).toMatchObject({ state: 'invalid', reason: expect.stringMatching(/changed|verify/) });
  });

  it('reads openssl sign then encrypt (CBC) as valid and not malleable', async () => {
    const signed = cms(['-sign', '-in', 'body.eml', '-signer', pki.user('alice').certPath, '-inkey', pki.user('alice').keyPath, '-md', 'sha256'], '');
    const sealed = cms(['-encrypt', '-aes-256-cbc', '-from', 'alice@example.test', '-to', 'bob@example.test', '-subject', 'Quarterly numbers', pki.user('bob').certPath], signed);
    const result = await read(sealed, 'bob');
    expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@example.test' } });
  });

  for (const gcm of [false, true]) {
    it(`openssl cms decrypts and verifies what we sign then encrypt (${gcm ? 'GCM' : 'CBC'}, RSA-OAEP and ECDH)`, async () => {
      const protector = createSmimeProtector({ recipientSupportsGcm: () => gcm, rsaKeyTransport: 'oaep' });
      const sealed = await protector.protect(new TextEncoder().encode(SAMPLE_MESSAGE), {
        sign: true, encrypt: true, recipients: [publicKey('bob'), publicKey('carol')], signer: privateKey('alice'), now,
      });
      expect(text(sealed)).toContain(gcm ? 'authEnveloped-data' : 'smime-type=enveloped-data');
      for (const reader of ['bob', 'carol']) {
        const inner = cms(['-decrypt', '-recip', pki.user(reader).certPath, '-inkey', pki.user(reader).keyPath], sealed);
        const verified = cms(['-verify', '-CAfile', pki.caPath, '-purpose', 'smimesign'], inner);
        expect(text(verified)).toContain('Subject: Quarterly numbers');
        expect(text(verified)).toContain('Revenue is up.');
      }
    });
  }

  it('openssl cms -verify rejects what we signed once it is changed', async () => {
    const signed = text(await createSmimeProtector().protect(new TextEncoder().encode(SAMPLE_MESSAGE), { sign: true, encrypt: false, recipients: [], signer: privateKey('alice'), now }));
    expect(cms(['-verify', '-CAfile', pki.caPath], signed).toString()).toContain('Revenue is up.');
    expect(() => cms(['-verify', '-CAfile', pki.caPath], signed.replace('Revenue is up.', 'Revenue is 0.'))).toThrow();
  });

  it('openssl decrypts PKCS#1 v1.5 key transport', async () => {
    const sealed = await createSmimeProtector({ rsaKeyTransport: 'pkcs1' }).protect(new TextEncoder().encode(SAMPLE_MESSAGE), { sign: false, encrypt: true, recipients: [publicKey('bob')], now });
    const inner = cms(['-decrypt', '-recip', pki.user('bob').certPath, '-inkey', pki.user('bob').keyPath], sealed);
    expect(text(inner)).toContain('hp="cipher"');
    expect(readFileSync(pki.user('bob').certPath).length).toBeGreaterThan(0);
  });
});
