import { createHash, X509Certificate } from 'node:crypto';

export interface TlsaFields {
  usage: 2 | 3;
  selector: 0 | 1;
  matchingType: 0 | 1 | 2;
  /** The certificate association data as lower-case hex, as it goes in a zone file. */
  hex: string;
}

/**
 * The TLSA record a zone would publish for a PEM certificate: selector 0 takes the whole DER
 * certificate, 1 its SubjectPublicKeyInfo; matching 0 is the bytes, 1 SHA-256, 2 SHA-512.
 * Computed here independently of src/linksec/dane.ts so tests check one against the other.
 */
export function tlsaFromCertPem(pem: string, usage: 2 | 3, selector: 0 | 1, matching: 0 | 1 | 2): TlsaFields {
  const cert = new X509Certificate(pem);
  const selected = selector === 0 ? cert.raw : cert.publicKey.export({ type: 'spki', format: 'der' });
  const data = matching === 0 ? selected : createHash(matching === 1 ? 'sha256' : 'sha512').update(selected).digest();
  return { usage, selector, matchingType: matching, hex: data.toString('hex') };
}
