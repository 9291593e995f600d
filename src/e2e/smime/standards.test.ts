/**
 * RFC 9216's sample S/MIME material (test/fixtures/standards/rfc9216/, sources in its README)
 * through our S/MIME layer and OpenSSL: each certificate chains to the sample RSA CA and is
 * allowed only the use its key usage names; a message signed with Alice's published key
 * verifies in our layer and in `openssl cms -verify`; we encrypt to Bob's RFC certificate and
 * refuse his signing one. The RFC's other private keys: rfc9216-keys.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPeers } from '../../../test/helpers/peers.ts';
import { createTestPki, SAMPLE_MESSAGE } from '../../../test/integration/18-smime/pki.ts';
import type { TestPki } from '../../../test/integration/18-smime/pki.ts';
import { checkCertificate, createSmimeProtector } from './index.ts';
import { parseCertificates } from './der.ts';
import type { CertificateUse } from './index.ts';

const DIR = path.resolve(import.meta.dirname, '../../../test/fixtures/standards/rfc9216');
const fixture = (name: string) => readFileSync(path.join(DIR, name));
const now = new Date('2026-12-02T00:00:00Z');
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
const MESSAGE = Buffer.from(SAMPLE_MESSAGE.replace(/alice@example\.test/g, 'alice@smime.example').replace(/bob@example\.test/g, 'bob@smime.example'));
const aliceSigner = () => ({ kind: 'smime' as const, address: 'alice@smime.example', key: fixture('alice-sign-key.pem'), certificates: [fixture('alice-sign-cert.pem')] });

/** RFC 9216 §4.1, §4.3, §5.1, §5.3: which certificate is for which use. */
const CERTIFICATES: { file: string; address: string; allows: CertificateUse; refuses: CertificateUse }[] = [
  { file: 'alice-sign-cert.pem', address: 'alice@smime.example', allows: 'sign', refuses: 'encrypt' },
  { file: 'alice-enc-cert.pem', address: 'alice@smime.example', allows: 'encrypt', refuses: 'sign' },
  { file: 'bob-sign-cert.pem', address: 'bob@smime.example', allows: 'sign', refuses: 'encrypt' },
  { file: 'bob-enc-cert.pem', address: 'bob@smime.example', allows: 'encrypt', refuses: 'sign' },
];

describe('RFC 9216 sample keys and certificates', () => {
  it("signs with Alice's RFC 9216 key (§4.2) and verifies against the sample RSA CA (§3), signer alice@smime.example", async () => {
    const protector = createSmimeProtector();
    const signed = await protector.protect(MESSAGE, { sign: true, encrypt: false, recipients: [], signer: aliceSigner(), now });
    const result = await protector.unprotect(signed, { decryptionKeys: [], verificationKeys: [], trustAnchors: [fixture('rsa-ca-cert.pem')], now });
    expect(result.signature).toMatchObject({ state: 'valid', signer: 'alice@smime.example' });
    // Against another anchor the same signature has no trusted chain.
    const other = await protector.unprotect(signed, { decryptionKeys: [], verificationKeys: [], trustAnchors: [fixture('alice-sign-cert.pem')], now });
    expect(other.signature?.state).not.toBe('valid');
  });

  for (const { file, address, allows, refuses } of CERTIFICATES) {
    it(`${file} chains to the sample RSA CA for ${address}, may ${allows} and may not ${refuses}`, async () => {
      const [certificate] = parseCertificates([fixture(file)]);
      const trustAnchors = parseCertificates([fixture('rsa-ca-cert.pem')]);
      expect(await checkCertificate({ certificate, use: allows, address, at: now, trustAnchors })).toEqual({ ok: true });
      expect(await checkCertificate({ certificate, use: refuses, address, at: now, trustAnchors })).toMatchObject({ ok: false, problem: 'key-usage' });
      // Another anchor: the chain is what made it trusted.
      const elsewhere = await checkCertificate({ certificate, use: allows, address, at: now, trustAnchors: parseCertificates([fixture('alice-sign-cert.pem')]) });
      expect(elsewhere).toMatchObject({ ok: false, problem: 'untrusted' });
    });
  }
});

describeWithPeers(['openssl'], 'RFC 9216 material against openssl', () => {
  let pki: TestPki;
  let dir: string;
  const openssl = (args: string[], input: string | Uint8Array = '') => execFileSync('openssl', args, { input, cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });

  beforeAll(() => {
    // A reader whose key we hold, next to Bob, so openssl can open what we encrypt to both.
    pki = createTestPki([{ name: 'carol', address: 'carol@example.test', key: 'rsa' }]);
    dir = mkdtempSync(path.join(tmpdir(), 'sealgate-rfc9216-'));
  }, 60_000);
  afterAll(() => {
    rmSync(pki.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('openssl verify accepts every stored certificate against rsa-ca-cert.pem', () => {
    for (const { file } of CERTIFICATES) {
      expect(openssl(['verify', '-CAfile', path.join(DIR, 'rsa-ca-cert.pem'), path.join(DIR, file)]).toString()).toContain(': OK');
    }
  });

  it("openssl cms -verify -CAfile rsa-ca-cert.pem accepts what we sign with Alice's RFC key, and not once a line is changed", async () => {
    const signed = text(await createSmimeProtector().protect(MESSAGE, { sign: true, encrypt: false, recipients: [], signer: aliceSigner(), now }));
    const verify = (message: string) => openssl(['cms', '-verify', '-CAfile', path.join(DIR, 'rsa-ca-cert.pem'), '-purpose', 'smimesign', '-attime', String(Math.floor(now.getTime() / 1000))], message);
    expect(verify(signed).toString()).toContain('Revenue is up.');
    expect(() => verify(signed.replace('Revenue is up.', 'Revenue is 0.'))).toThrow();
  });

  it("encrypts to Bob's RFC 9216 encryption certificate (§5.3): openssl names it as a recipient, and the other reader decrypts", async () => {
    const protector = createSmimeProtector({ recipientTrustAnchors: [fixture('rsa-ca-cert.pem'), pki.ca] });
    const bob = { kind: 'smime' as const, address: 'bob@smime.example', data: fixture('bob-enc-cert.pem') };
    const carol = { kind: 'smime' as const, address: 'carol@example.test', data: pki.user('carol').cert };
    // The local reader's certificate was made a moment ago: encrypt at the machine's time.
    const sealed = await protector.protect(MESSAGE, { sign: true, encrypt: true, recipients: [bob, carol], signer: aliceSigner(), now: new Date(Date.now() + 2000) });
    const printed = openssl(['cms', '-cmsout', '-print'], sealed).toString();
    // RecipientInfo by issuer and serial: RFC 9216 §5.3's certificate, serial 30:7C:47:40:...
    expect(printed).toMatch(/CN=Sample LAMPS RSA Certification Authority[\s\S]*serialNumber: 0x307C47400F86263A1C62D2EB832F96C0D78694/);
    writeFileSync(path.join(dir, 'sealed.eml'), sealed);
    const inner = openssl(['cms', '-decrypt', '-in', 'sealed.eml', '-recip', pki.user('carol').certPath, '-inkey', pki.user('carol').keyPath]);
    expect(openssl(['cms', '-verify', '-CAfile', path.join(DIR, 'rsa-ca-cert.pem'), '-purpose', 'smimesign'], inner).toString()).toContain('Subject: Quarterly numbers');
  });

  it("refuses to encrypt to Bob's RFC 9216 signing certificate (§5.1: digitalSignature and nonRepudiation only)", async () => {
    const protector = createSmimeProtector({ recipientTrustAnchors: [fixture('rsa-ca-cert.pem')] });
    const bob = { kind: 'smime' as const, address: 'bob@smime.example', data: fixture('bob-sign-cert.pem') };
    await expect(protector.protect(MESSAGE, { sign: false, encrypt: true, recipients: [bob], now })).rejects.toMatchObject({
      code: 554,
      message: expect.stringContaining('does not allow encryption'),
    });
  });
});
