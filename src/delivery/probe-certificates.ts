import { createHash, X509Certificate } from 'node:crypto';

/** What `domain check` shows of one certificate the MX presented (posttls-finger's chain listing). */
export interface CertificateFacts {
  subject: string;
  issuer: string;
  validFrom: number;
  validTo: number;
  /** SHA-256 of the DER certificate, `AB:CD:…` as `openssl x509 -fingerprint -sha256` prints it. */
  sha256: string;
  /** SHA-256 of the SubjectPublicKeyInfo: the data of a `3 1 1` TLSA record, Postfix's pkey_fingerprint. */
  spkiSha256: string | null;
}

/** Which name the certificate was checked against, and the name in it that matched. */
export interface NameCheck {
  checked: string;
  /** The certificate's own name that covers `checked` (e.g. `*.example.org`), null when none does. */
  matchedBy: string | null;
  /** The DNS names the certificate carries (subjectAltName, else its CN). */
  certificateNames: string[];
}

const colonHex = (bytes: Buffer) => [...bytes].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');

/** One line per name part, `CN=mx.example.org, O=Example`. */
const distinguishedName = (text: string) => text.split('\n').filter(Boolean).join(', ');

function parse(der: Buffer): X509Certificate | null {
  try {
    return new X509Certificate(der);
  } catch {
    return null;
  }
}

/** The chain as presented, leaf first; an unparsable certificate still shows its fingerprint. */
export function certificateFacts(chain: Buffer[]): CertificateFacts[] {
  return chain.map((der) => {
    const cert = parse(der);
    const sha256 = colonHex(createHash('sha256').update(der).digest());
    if (!cert) return { subject: '(not parsable as X.509)', issuer: '', validFrom: 0, validTo: 0, sha256, spkiSha256: null };
    let spki: Buffer | null = null;
    try {
      spki = cert.publicKey.export({ type: 'spki', format: 'der' });
    } catch {
      // A key type Node cannot export: the certificate fingerprint still identifies it.
    }
    return {
      subject: distinguishedName(cert.subject),
      issuer: distinguishedName(cert.issuer),
      validFrom: cert.validFromDate.getTime(),
      validTo: cert.validToDate.getTime(),
      sha256,
      spkiSha256: spki ? colonHex(createHash('sha256').update(spki).digest()) : null,
    };
  });
}

/** RFC 6125 as Node's checkHost applies it (`*` only as the whole leftmost label), on the leaf. */
export function nameCheck(leafDer: Buffer | undefined, name: string): NameCheck {
  const leaf = leafDer ? parse(leafDer) : null;
  if (!leaf) return { checked: name, matchedBy: null, certificateNames: [] };
  const sans = (leaf.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1];
  const matchedBy = leaf.checkHost(name, { wildcards: true, partialWildcards: false, multiLabelWildcards: false }) ?? null;
  return { checked: name, matchedBy, certificateNames: sans.length ? sans : cn ? [cn] : [] };
}
