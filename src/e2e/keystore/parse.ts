/**
 * What the key store needs to know of a key: fingerprint, addresses, validity, revocation and
 * what it may be used for. OpenPGP through OpenPGP.js, X.509 through @peculiar/x509: no packet
 * or ASN.1 parsing here.
 */
import type * as x509 from '@peculiar/x509';
import type * as openpgp from 'openpgp';
import { openpgpLibrary, x509Library } from '../libraries.ts';
import type * as X509 from '@peculiar/x509';
import type { E2eKind } from '../types.ts';

export interface ParsedKey {
  kind: E2eKind;
  /** Lowercase hex: the OpenPGP v4/v6 fingerprint, or the SHA-256 of the certificate's DER. */
  fingerprint: string;
  /** The addresses the key names (OpenPGP user IDs; X.509 SAN rfc822Name and subject E=), lowercased. */
  addresses: string[];
  /** OpenPGP user IDs as written; X.509: the subject. */
  userIds: string[];
  createdAt: Date;
  expiresAt: Date | null;
  revoked: boolean;
  canEncrypt: boolean;
  canSign: boolean;
  /** OpenPGP: carries secret key material. */
  isPrivate: boolean;
  /** The public part, binary (OpenPGP certificate without secrets, or X.509 DER). */
  publicData: Uint8Array;
  /** X.509 key usage names (`digitalSignature`, `keyEncipherment`, …); OpenPGP: []. */
  keyUsage: string[];
}

export class KeyParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyParseError';
  }
}

const ARMOR = /-----BEGIN PGP (PUBLIC|PRIVATE) KEY BLOCK-----/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----/;

function text(data: Uint8Array): string {
  return Buffer.from(data.subarray(0, 64 * 1024)).toString('latin1');
}

/** OpenPGP (armored or binary) or X.509 (PEM or DER): which one these bytes are. */
export function detectKind(data: Uint8Array): E2eKind {
  const head = text(data);
  if (ARMOR.test(head)) return 'openpgp';
  if (PEM_CERT.test(head)) return 'smime';
  // DER starts with a SEQUENCE (0x30); an OpenPGP packet has bit 7 set (old or new format).
  if (data[0] === 0x30) return 'smime';
  if (data[0] !== undefined && (data[0] & 0x80) !== 0) return 'openpgp';
  throw new KeyParseError('this is neither an OpenPGP key nor an X.509 certificate (PEM or DER)');
}

export async function readOpenPgpKeys(data: Uint8Array): Promise<openpgp.Key[]> {
  const openpgp = await openpgpLibrary();
  try {
    if (ARMOR.test(text(data))) return await openpgp.readKeys({ armoredKeys: Buffer.from(data).toString('utf8') });
    return await openpgp.readKeys({ binaryKeys: data });
  } catch (error) {
    throw new KeyParseError(`not a readable OpenPGP key: ${(error as Error).message}`);
  }
}

function addressOf(userId: string): string | null {
  const match = /<([^<>\s]+@[^<>\s]+)>\s*$/.exec(userId) ?? /^\s*([^<>\s]+@[^<>\s]+)\s*$/.exec(userId);
  return match ? match[1].toLowerCase() : null;
}

async function usable(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}

export async function describeOpenPgpKey(key: openpgp.Key, now: Date = new Date()): Promise<ParsedKey> {
  const userIds = key.getUserIDs();
  const expiration = await key.getExpirationTime();
  const revoked = await key.isRevoked(undefined, undefined, now);
  const publicKey = key.isPrivate() ? key.toPublic() : key;
  return {
    kind: 'openpgp',
    fingerprint: key.getFingerprint().toLowerCase(),
    addresses: [...new Set(userIds.map(addressOf).filter((a): a is string => a !== null))],
    userIds,
    createdAt: key.getCreationTime(),
    expiresAt: expiration instanceof Date ? expiration : null,
    revoked,
    canEncrypt: await usable(() => key.getEncryptionKey(undefined, now)),
    canSign: await usable(() => key.getSigningKey(undefined, now)),
    isPrivate: key.isPrivate(),
    publicData: publicKey.write(),
    keyUsage: [],
  };
}

function keyUsages(x509: typeof X509): [x509.KeyUsageFlags, string][] {
  return [
    [x509.KeyUsageFlags.digitalSignature, 'digitalSignature'],
    [x509.KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
    [x509.KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
    [x509.KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
    [x509.KeyUsageFlags.keyAgreement, 'keyAgreement'],
    [x509.KeyUsageFlags.keyCertSign, 'keyCertSign'],
    [x509.KeyUsageFlags.cRLSign, 'cRLSign'],
  ];
}

export function readCertificate(data: Uint8Array): x509.X509Certificate {
  const x509 = x509Library();
  try {
    const head = text(data);
    return PEM_CERT.test(head) ? new x509.X509Certificate(Buffer.from(data).toString('utf8')) : new x509.X509Certificate(Buffer.from(data));
  } catch (error) {
    throw new KeyParseError(`not a readable X.509 certificate: ${(error as Error).message}`);
  }
}

export async function describeCertificate(cert: x509.X509Certificate, now: Date = new Date()): Promise<ParsedKey> {
  const x509 = x509Library();
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const emails = (san?.names.items ?? []).filter((n) => n.type === 'email').map((n) => n.value.toLowerCase());
  // Older certificates carry the address only as the subject's emailAddress attribute.
  const subjectEmails = cert.subjectName.getField('E').map((e) => e.toLowerCase());
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const keyUsage = ku ? keyUsages(x509).filter(([flag]) => (ku.usages & flag) !== 0).map(([, name]) => name) : [];
  const valid = cert.notBefore.getTime() <= now.getTime() && now.getTime() <= cert.notAfter.getTime();
  // No key-usage extension means no restriction (RFC 5280 §4.2.1.3).
  const allows = (...names: string[]) => !ku || names.some((n) => keyUsage.includes(n));
  const thumbprint = await cert.getThumbprint('SHA-256');
  return {
    kind: 'smime',
    fingerprint: Buffer.from(thumbprint).toString('hex'),
    addresses: [...new Set([...emails, ...subjectEmails])],
    userIds: [cert.subject],
    createdAt: cert.notBefore,
    expiresAt: cert.notAfter,
    revoked: false,
    canEncrypt: valid && allows('keyEncipherment', 'keyAgreement'),
    canSign: valid && allows('digitalSignature', 'nonRepudiation'),
    isPrivate: false,
    publicData: new Uint8Array(cert.rawData),
    keyUsage,
  };
}

/** Every key in `data` (a keyring or one certificate), described. */
export async function parseKeys(data: Uint8Array, now: Date = new Date()): Promise<ParsedKey[]> {
  if (detectKind(data) === 'smime') return [await describeCertificate(readCertificate(data), now)];
  return Promise.all((await readOpenPgpKeys(data)).map((key) => describeOpenPgpKey(key, now)));
}
