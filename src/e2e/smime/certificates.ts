/**
 * Whether a certificate may be used for S/MIME by an address at a time: chain to the trust
 * anchors (PKI.js's RFC 5280 path validation), validity period, key usage and extended key
 * usage, the address in the subjectAltName (or the legacy emailAddress attribute), and not in
 * the caller's revoked set. Used for signers (at the signing time) and recipients (now).
 */
import type * as x509 from '@peculiar/x509';
import { x509Library } from '../libraries.ts';
import { pkijs } from './engine.ts';
import { certificateDer, fingerprint } from './der.ts';

export type CertificateUse = 'sign' | 'encrypt';

export interface CertificateCheckInput {
  certificate: pkijs.Certificate;
  use: CertificateUse;
  /** The address the certificate must name; omitted when no address is claimed. */
  address?: string;
  at: Date;
  /** Trust anchors; when omitted the chain is not checked (the caller pinned the certificate). */
  trustAnchors?: pkijs.Certificate[];
  intermediates?: pkijs.Certificate[];
  /** SHA-256 fingerprints (lower-case hex) the key store knows to be revoked. */
  revoked?: ReadonlySet<string>;
}

export type CertificateProblem = 'untrusted' | 'expired' | 'not-yet-valid' | 'key-usage' | 'address' | 'revoked';

export type CertificateCheck = { ok: true } | { ok: false; problem: CertificateProblem; reason: string };

const EMAIL_PROTECTION = '1.3.6.1.5.5.7.3.4';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

export function certificateAddresses(certificate: pkijs.Certificate): string[] {
  const x509 = x509Library();
  const cert = new x509.X509Certificate(certificateDer(certificate));
  const addresses: string[] = [];
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  for (const name of san?.names.items ?? []) {
    if (name.type === 'email') addresses.push(name.value.toLowerCase());
  }
  // RFC 8550 §3: the emailAddress attribute in the subject is legacy, still honoured when no SAN names one.
  if (!addresses.length) {
    for (const value of cert.subjectName.getField('E')) addresses.push(value.toLowerCase());
  }
  return addresses;
}

/** The subject DN as text, for verdicts and logs. */
export function certificateSubject(certificate: pkijs.Certificate): string {
  const x509 = x509Library();
  return new x509.X509Certificate(certificateDer(certificate)).subject;
}

function usageProblem(certificate: pkijs.Certificate, use: CertificateUse): string | null {
  const x509 = x509Library();
  const cert = new x509.X509Certificate(certificateDer(certificate));
  const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
  if (keyUsage) {
    const flags = keyUsage.usages;
    const isEc = cert.publicKey.algorithm.name === 'ECDSA' || cert.publicKey.algorithm.name === 'ECDH';
    const wanted =
      use === 'sign'
        ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation
        : isEc
          ? x509.KeyUsageFlags.keyAgreement
          : x509.KeyUsageFlags.keyEncipherment;
    if ((flags & wanted) === 0) {
      return use === 'sign' ? 'the certificate does not allow digital signatures' : 'the certificate does not allow encryption';
    }
  }
  const extended = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (extended) {
    const purposes = extended.usages.map(String);
    if (!purposes.includes(EMAIL_PROTECTION) && !purposes.includes(ANY_EXTENDED_KEY_USAGE)) {
      return 'the certificate is not issued for e-mail protection';
    }
  }
  return null;
}

export async function checkCertificate(input: CertificateCheckInput): Promise<CertificateCheck> {
  const { certificate, at } = input;
  if (input.revoked?.has(fingerprint(certificate))) {
    return { ok: false, problem: 'revoked', reason: 'the certificate is revoked' };
  }
  if (at < certificate.notBefore.value) {
    return { ok: false, problem: 'not-yet-valid', reason: `the certificate is not valid before ${certificate.notBefore.value.toISOString()}` };
  }
  if (at > certificate.notAfter.value) {
    return { ok: false, problem: 'expired', reason: `the certificate expired on ${certificate.notAfter.value.toISOString()}` };
  }
  const usage = usageProblem(certificate, input.use);
  if (usage) return { ok: false, problem: 'key-usage', reason: usage };
  if (input.address !== undefined) {
    const wanted = input.address.toLowerCase();
    const names = certificateAddresses(certificate);
    if (!names.includes(wanted)) {
      return { ok: false, problem: 'address', reason: `the certificate names ${names.join(', ') || 'no address'}, not ${wanted}` };
    }
  }
  if (input.trustAnchors) {
    const engine = new pkijs.CertificateChainValidationEngine({
      trustedCerts: input.trustAnchors,
      certs: [certificate, ...(input.intermediates ?? [])],
      checkDate: at,
    });
    const result = await engine.verify();
    if (!result.result) {
      return { ok: false, problem: 'untrusted', reason: `the certificate does not chain to a trusted anchor (${result.resultMessage})` };
    }
  }
  return { ok: true };
}
