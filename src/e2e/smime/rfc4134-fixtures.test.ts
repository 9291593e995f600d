/**
 * Each stored RFC 4134 file (test/fixtures/standards/rfc4134/) is what its README says, checked
 * by OpenSSL: certificates chain to their Carl, keys fit their certificates, CRLs are Carl's,
 * the signed-data verifies and the enveloped-data opens with Bob's key to ExContent. A
 * changed byte in any of them fails here (and SHA256SUMS). Our own layer: rfc4134.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPeers } from '../../../test/helpers/peers.ts';
import { derBlocks, parseCertificate, toArrayBuffer } from './der.ts';
import { pkijs } from './engine.ts';

const DIR = path.resolve(import.meta.dirname, '../../../test/fixtures/standards/rfc4134');
const fixture = (name: string) => readFileSync(path.join(DIR, name));
/** RFC 4134's ExContent (the one file of its forty not in the copy; 3.1 and 3.2 hold it). */
const CONTENT = 'This is some sample content.';
const AT = String(Math.floor(new Date('2026-12-04T00:00:00Z').getTime() / 1000));

/** The RFC's certificates and who issued each. */
const CERTIFICATES: { file: string; subject: string; email?: string; issuer: string }[] = [
  { file: 'CarlRSASelf.cer', subject: 'CN = CarlRSA', issuer: 'CarlRSASelf.cer' },
  { file: 'AliceRSASignByCarl.cer', subject: 'CN = AliceRSA', email: 'AliceRSA@example.com', issuer: 'CarlRSASelf.cer' },
  { file: 'BobRSASignByCarl.cer', subject: 'CN = BobRSA', email: 'BobRSA@example.com', issuer: 'CarlRSASelf.cer' },
  { file: 'DianeRSASignByCarl.cer', subject: 'CN = DianeRSA', email: 'DianeRSA@example.com', issuer: 'CarlRSASelf.cer' },
  { file: 'CarlDSSSelf.cer', subject: 'CN = CarlDSS', issuer: 'CarlDSSSelf.cer' },
  { file: 'AliceDSSSignByCarlNoInherit.cer', subject: 'CN = AliceDSS', email: 'AliceDSS@example.com', issuer: 'CarlDSSSelf.cer' },
  { file: 'DianeDSSSignByCarlInherit.cer', subject: 'CN = DianeDSS', email: 'DianeDSS@example.com', issuer: 'CarlDSSSelf.cer' },
];
/** DSA parameters inherited from the issuer (RFC 3279 §2.3.2): OpenSSL cannot decode the key alone. */
const INHERITS_PARAMETERS = 'DianeDSSSignByCarlInherit.cer';

/** The RFC's private keys (PKCS#8) and the certificate each belongs to. */
const PRIVATE_KEYS: [key: string, certificate: string][] = [
  ['CarlPrivRSASign.pri', 'CarlRSASelf.cer'],
  ['AlicePrivRSASign.pri', 'AliceRSASignByCarl.cer'],
  ['BobPrivRSAEncrypt.pri', 'BobRSASignByCarl.cer'],
  ['DianePrivRSASignEncrypt.pri', 'DianeRSASignByCarl.cer'],
  ['CarlPrivDSSSign.pri', 'CarlDSSSelf.cer'],
  ['AlicePrivDSSSign.pri', 'AliceDSSSignByCarlNoInherit.cer'],
  ['DianePrivDSSSign.pri', 'DianeDSSSignByCarlInherit.cer'],
];

/** The serials each of the RFC's CRLs revokes (as openssl prints them). */
const CRLS: { file: string; issuer: string; revoked: string[] }[] = [
  { file: 'CarlRSACRLEmpty.crl', issuer: 'CarlRSASelf.cer', revoked: [] },
  { file: 'CarlRSACRLForAll.crl', issuer: 'CarlRSASelf.cer', revoked: ['46346BC7800056BC11D36E2EC410B3B0', '46346BC7800056BC11D36E2ED59A3090', '46346BC7800056BC11D36E2ECD5D71D0'] },
  { file: 'CarlRSACRLForCarl.crl', issuer: 'CarlRSASelf.cer', revoked: ['46346BC7800056BC11D36E2E9FF25020'] },
  { file: 'CarlDSSCRLEmpty.crl', issuer: 'CarlDSSSelf.cer', revoked: [] },
  { file: 'CarlDSSCRLForAll.crl', issuer: 'CarlDSSSelf.cer', revoked: ['C8', 'C9', 'D3', 'D2', 'D4'] },
  { file: 'CarlDSSCRLForCarl.crl', issuer: 'CarlDSSSelf.cer', revoked: ['01'] },
];

describe('RFC 4134 fixtures against SHA256SUMS', () => {
  it('every stored file has the SHA-256 the folder lists, and nothing else is stored', () => {
    const sums = fixture('SHA256SUMS').toString('latin1').trim().split('\n').map((line) => line.split(/\s+/));
    expect(sums).toHaveLength(39);
    for (const [sum, name] of sums) expect(createHash('sha256').update(fixture(name)).digest('hex'), name).toBe(sum);
    const listed = sums.map(([, name]) => name);
    expect(readdirSync(DIR).sort()).toEqual([...listed, 'SHA256SUMS', '.gitattributes'].sort());
  });
});

describeWithPeers(['openssl'], 'RFC 4134 fixtures against openssl', () => {
  let dir: string;
  const openssl = (args: string[], input: string | Uint8Array = '') => execFileSync('openssl', args, { input, cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] }).toString('latin1');
  const pem = (certificate: string) => `${certificate}.pem`;
  const rfc = (name: string) => path.join(DIR, name);
  /** The subjectPublicKey bits, which do not carry inherited DSA parameters. */
  const publicKeyBits = (spki: Uint8Array) => Buffer.from(pkijs.PublicKeyInfo.fromBER(toArrayBuffer(spki)).subjectPublicKey.valueBlock.valueHexView);
  const certificateKeyBits = (file: string) => Buffer.from(parseCertificate(fixture(file)).subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
  /** A DSA signature over `data`, checked by `openssl dgst` with the public key in `publicKeyPem`. */
  const dsaVerifies = (publicKeyPem: string, signature: Uint8Array, data: Uint8Array) => {
    writeFileSync(path.join(dir, 'signature.der'), signature);
    writeFileSync(path.join(dir, 'signed.bin'), data);
    return openssl(['dgst', '-sha1', '-verify', publicKeyPem, '-signature', 'signature.der', 'signed.bin']);
  };

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sealgate-rfc4134-'));
    for (const { file } of CERTIFICATES) openssl(['x509', '-inform', 'DER', '-in', rfc(file), '-out', pem(file)]);
    const anchors = ['CarlRSASelf.cer', 'CarlDSSSelf.cer'].map((file) => readFileSync(path.join(dir, pem(file)), 'latin1'));
    writeFileSync(path.join(dir, 'anchors.pem'), anchors.join(''));
    // Diane's DSA public key with Carl's parameters, as her private key holds it (checked against her certificate below).
    openssl(['pkey', '-inform', 'DER', '-in', rfc('DianePrivDSSSign.pri'), '-pubout', '-out', 'diane-dss-public.pem']);
    openssl(['x509', '-in', pem('CarlDSSSelf.cer'), '-pubkey', '-noout', '-out', 'carl-dss-public.pem']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const { file, subject, email, issuer } of CERTIFICATES) {
    it(`${file}: ${subject}${email ? `, ${email}` : ''}, issued by ${issuer}`, () => {
      const printed = openssl(['x509', '-inform', 'DER', '-in', rfc(file), '-noout', '-subject', '-ext', 'subjectAltName']);
      expect(printed).toContain(`subject=${subject}\n`);
      if (email) expect(printed).toContain(`email:${email}`);
      if (file !== INHERITS_PARAMETERS) {
        expect(openssl(['verify', '-attime', AT, '-CAfile', pem(issuer), pem(file)])).toContain(': OK');
        return;
      }
      // openssl verify cannot decode this key without its parameters: Carl's signature is checked on the TBSCertificate.
      const certificate = parseCertificate(fixture(file));
      expect(dsaVerifies('carl-dss-public.pem', certificate.signatureValue.valueBlock.valueHexView, certificate.tbsView)).toContain('Verified OK');
    });
  }

  for (const [key, certificate] of PRIVATE_KEYS) {
    it(`${key} is a valid PKCS#8 key, the private half of ${certificate}`, () => {
      expect(openssl(['pkey', '-inform', 'DER', '-in', rfc(key), '-check', '-noout'])).toContain('Key is valid');
      const spki = execFileSync('openssl', ['pkey', '-inform', 'DER', '-in', rfc(key), '-pubout', '-outform', 'DER']);
      expect(publicKeyBits(spki).equals(certificateKeyBits(certificate))).toBe(true);
    });
  }

  for (const { file, issuer, revoked } of CRLS) {
    it(`${file} is signed by ${issuer} and revokes ${revoked.length ? revoked.join(', ') : 'nothing'}`, () => {
      // openssl crl reports the signature check on stderr.
      const checked = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', rfc(file), '-CAfile', pem(issuer), '-noout', '-text'], { cwd: dir, encoding: 'latin1' });
      expect(checked.stderr).toBe('verify OK\n');
      expect(checked.status).toBe(0);
      const printed = checked.stdout;
      expect([...printed.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((match) => match[1])).toEqual(revoked);
    });
  }

  it("openssl verify -crl_check: CarlRSACRLForAll revokes Alice's RSA certificate, CarlRSACRLEmpty does not", () => {
    for (const file of ['CarlRSACRLForAll.crl', 'CarlRSACRLEmpty.crl']) openssl(['crl', '-inform', 'DER', '-in', rfc(file), '-out', `${file}.pem`]);
    const verify = (crl: string) => ['verify', '-attime', AT, '-crl_check', '-CAfile', pem('CarlRSASelf.cer'), '-CRLfile', `${crl}.pem`, pem('AliceRSASignByCarl.cer')];
    expect(() => openssl(verify('CarlRSACRLForAll.crl'))).toThrow(/certificate revoked/);
    expect(openssl(verify('CarlRSACRLEmpty.crl'))).toContain(': OK');
  });

  for (const example of ['3.1', '3.2']) {
    it(`§${example} is a ContentInfo of type data holding ExContent`, () => {
      expect(openssl(['cms', '-data_out', '-inform', 'DER', '-in', rfc(`${example}.bin`)])).toBe(CONTENT);
    });
  }

  const cmsVerify = ['cms', '-verify', '-CAfile', 'anchors.pem', '-attime', AT];
  for (const example of ['4.1', '4.2', '4.4', '4.5', '4.7', '4.10']) {
    it(`§${example}'s signed-data verifies with openssl against the Carl certificates and holds ExContent`, () => {
      expect(openssl([...cmsVerify, '-inform', 'DER', '-binary', '-in', rfc(`${example}.bin`)])).toBe(CONTENT);
    });
  }

  it("§4.3's detached signature verifies over ExContent", () => {
    writeFileSync(path.join(dir, 'content.txt'), CONTENT);
    expect(openssl([...cmsVerify, '-inform', 'DER', '-binary', '-in', rfc('4.3.bin'), '-content', 'content.txt'])).toBe(CONTENT);
  });

  for (const example of ['4.8', '4.9']) {
    it(`§${example}'s S/MIME message verifies with openssl (text mode: its lines end in LF) and holds ExContent`, () => {
      expect(openssl([...cmsVerify, '-in', rfc(`${example}.eml`)])).toBe(`\r\n${CONTENT}`);
    });
  }

  it("§4.6's two signatures (AliceDSS, DianeDSS) verify over ExContent: openssl dgst, as openssl cms cannot decode Diane's key", () => {
    const info = pkijs.ContentInfo.fromBER(toArrayBuffer(fixture('4.6.bin')));
    const signerInfos = new pkijs.SignedData({ schema: info.content }).signerInfos;
    // Serial 200 is AliceDSS's certificate, 210 DianeDSS's.
    expect(signerInfos.map((s) => (s.sid as pkijs.IssuerAndSerialNumber).serialNumber.valueBlock.valueDec)).toEqual([200, 210]);
    const [alice, diane] = signerInfos.map((s) => s.signature.valueBlock.valueHexView);
    openssl(['x509', '-in', pem('AliceDSSSignByCarlNoInherit.cer'), '-pubkey', '-noout', '-out', 'alice-dss-public.pem']);
    expect(dsaVerifies('alice-dss-public.pem', alice, Buffer.from(CONTENT))).toContain('Verified OK');
    expect(dsaVerifies('diane-dss-public.pem', diane, Buffer.from(CONTENT))).toContain('Verified OK');
  });

  it("§4.11 carries exactly CarlDSSSelf.cer, AliceDSSSignByCarlNoInherit.cer and CarlDSSCRLForAll.crl", () => {
    const printed = Buffer.from(openssl(['pkcs7', '-inform', 'DER', '-in', rfc('4.11.bin'), '-print_certs']), 'latin1');
    const carried = derBlocks(printed).map((block) => Buffer.from(block));
    expect(carried).toEqual([fixture('CarlDSSSelf.cer'), fixture('AliceDSSSignByCarlNoInherit.cer'), fixture('CarlDSSCRLForAll.crl')]);
  });

  const decrypt = ['cms', '-decrypt', '-recip', pem('BobRSASignByCarl.cer'), '-inkey', rfc('BobPrivRSAEncrypt.pri'), '-keyform', 'DER'];
  it("§5.1 (3DES) and §5.3's S/MIME message open with Bob's key to ExContent", () => {
    expect(openssl([...decrypt, '-inform', 'DER', '-in', rfc('5.1.bin')])).toBe(CONTENT);
    expect(openssl([...decrypt, '-in', rfc('5.3.eml')])).toBe(CONTENT);
  });

  it("§5.2 (RC2, OpenSSL 3's legacy provider) opens with Bob's key to ExContent", () => {
    expect(openssl([...decrypt, '-inform', 'DER', '-in', rfc('5.2.bin'), '-provider', 'legacy', '-provider', 'default'])).toBe(CONTENT);
  });

  it("§6's digested-data holds ExContent under its SHA-1", () => {
    expect(openssl(['cms', '-digest_verify', '-inform', 'DER', '-in', rfc('6.0.bin')])).toBe(CONTENT);
  });

  for (const example of ['7.1', '7.2']) {
    it(`§${example} is an encrypted-data (3DES); not decrypted, its key is not in the stored files`, () => {
      const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', rfc(`${example}.bin`)]);
      expect(printed).toContain('contentType: pkcs7-encryptedData');
      expect(printed).toContain('algorithm: des-ede3-cbc');
      if (example === '7.2') expect(printed).toContain('object: undefined (1.2.5555)');
    });
  }
});
