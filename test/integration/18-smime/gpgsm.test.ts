/**
 * S/MIME against GnuPG's `gpgsm`, both ways, in a temporary GNUPGHOME holding the test CA
 * (trusted through trustlist.txt) and the reader's PKCS#12; CRL and policy checks off
 * (the test CA publishes no CRL).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeers } from '../../helpers/peers.ts';
import { createSmimeProtector } from '../../../src/e2e/smime/index.ts';
import type { PrivateKeyMaterial, PublicKeyMaterial } from '../../../src/e2e/index.ts';
import { createGpgsmHome, type GpgsmHome } from './gpgsm-home.ts';
import { createTestPki, SAMPLE_MESSAGE } from './pki.ts';
import type { TestPki } from './pki.ts';

const PASSPHRASE = 'test-passphrase';
let pki: TestPki;
let gpgsmHome: GpgsmHome;
let now: Date;
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

const gpgsm = (args: string[], input?: string | Uint8Array): Buffer => gpgsmHome.gpgsm(args, input);
function privateKey(name: string): PrivateKeyMaterial {
  const user = pki.user(name);
  return { kind: 'smime', address: user.address, key: user.key, certificates: [user.cert] };
}
function publicKey(name: string): PublicKeyMaterial {
  const user = pki.user(name);
  return { kind: 'smime', address: user.address, data: user.cert };
}
const HEADERS = SAMPLE_MESSAGE.slice(0, SAMPLE_MESSAGE.indexOf('MIME-Version'));
const BODY_ENTITY = 'Content-Type: text/plain; charset=utf-8\r\n\r\nThe numbers are in.\r\nRevenue is up.\r\n';

describeWithPeers(['gpgsm', 'gpg-agent', 'openssl'], 'S/MIME with gpgsm', () => {
  beforeAll(() => {
    pki = createTestPki([
      { name: 'alice', address: 'alice@example.test', key: 'rsa' },
      { name: 'bob', address: 'bob@example.test', key: 'rsa' },
    ]);
    now = new Date(Date.now() + 2000);
    writeFileSync(join(pki.dir, 'body.eml'), BODY_ENTITY);
    gpgsmHome = createGpgsmHome(pki, 'bob', PASSPHRASE, ['alice']);
  }, 120_000);

  afterAll(() => {
    gpgsmHome?.cleanup();
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('reads what gpgsm encrypts to a key we hold', async () => {
    const der = gpgsm(['-r', 'bob@example.test', '--encrypt', 'body.eml']);
    const message = `${HEADERS}MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n` +
      `Content-Transfer-Encoding: base64\r\n\r\n${der.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n`;
    const result = await createSmimeProtector().unprotect(new TextEncoder().encode(message), { decryptionKeys: [privateKey('bob')], verificationKeys: [], now });
    expect(result).toMatchObject({ decrypted: true, malleable: true, signature: null });
    expect(text(result.message)).toContain('Revenue is up.');
  });

  it('verifies a gpgsm detached signature, valid and then tampered', async () => {
    // gpgsm signs the file's bytes; the signed part ends before the CRLF that precedes the delimiter.
    const signedBody = BODY_ENTITY.slice(0, -2);
    writeFileSync(join(pki.dir, 'body-nolf.eml'), signedBody);
    const signature = gpgsm(['--passphrase-fd', '0', '--detach-sign', '-u', 'bob@example.test', 'body-nolf.eml'], PASSPHRASE);
    const boundary = 'gpgsm-test-boundary';
    const message =
      `${HEADERS.replace('From: Alice <alice@example.test>', 'From: Bob <bob@example.test>')}MIME-Version: 1.0\r\n` +
      `Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="${boundary}"\r\n\r\n` +
      `--${boundary}\r\n${signedBody}\r\n--${boundary}\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
      `${signature.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n--${boundary}--\r\n`;
    const protector = createSmimeProtector();
    const good = await protector.unprotect(new TextEncoder().encode(message), { decryptionKeys: [], verificationKeys: [], trustAnchors: [pki.ca], now });
    expect(good.signature).toMatchObject({ state: 'valid', signer: 'bob@example.test' });
    const bad = await protector.unprotect(new TextEncoder().encode(message.replace('Revenue is up.', 'Revenue is 0.')), { decryptionKeys: [], verificationKeys: [], trustAnchors: [pki.ca], now });
    expect(bad.signature?.state).toBe('invalid');
  });

  // gpgsm 2.2 reads only PKCS#1 v1.5 key transport (RSAES-OAEP came with GnuPG 2.4), hence our default.
  for (const rsaKeyTransport of ['pkcs1'] as const) {
    it(`gpgsm decrypts what we sign then encrypt (RSA ${rsaKeyTransport}) and verifies the signature`, async () => {
      const sealed = await createSmimeProtector({ rsaKeyTransport }).protect(new TextEncoder().encode(SAMPLE_MESSAGE), {
        sign: true, encrypt: true, recipients: [publicKey('bob')], signer: privateKey('alice'), now,
      });
      const der = Buffer.from(text(sealed).split('\r\n\r\n').slice(1).join('').replace(/\s+/g, ''), 'base64');
      writeFileSync(join(pki.dir, 'sealed.p7m'), der);
      const inner = text(gpgsm(['--passphrase-fd', '0', '--decrypt', 'sealed.p7m'], PASSPHRASE));
      expect(inner).toContain('Subject: Quarterly numbers');
      const boundary = /boundary="([^"]+)"/.exec(inner)?.[1] ?? '';
      const [, signedPart, signaturePart] = inner.split(`--${boundary}`);
      writeFileSync(join(pki.dir, 'signed.part'), signedPart.slice(2, -2), 'latin1');
      writeFileSync(join(pki.dir, 'sig.p7s'), Buffer.from(signaturePart.split('\r\n\r\n')[1].replace(/\s+/g, ''), 'base64'));
      const status = gpgsm(['--status-fd', '1', '--verify', 'sig.p7s', 'signed.part']).toString();
      expect(status).toMatch(/GOODSIG|VALIDSIG/);
    });
  }
});
