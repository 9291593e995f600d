/**
 * OpenPGP keys through OpenPGP.js v6: generate a user's key, read certificates and secret keys
 * (armored or binary), and say what a certificate is (fingerprint, user IDs, expiry, revocation,
 * whether it can encrypt or sign now). No packet code of our own.
 */
import type * as openpgp from 'openpgp';
import { openpgpLibrary } from '../libraries.ts';
import { MailError } from '../../kernel/index.ts';
import { ParsedKeyCache } from './parsed-keys.ts';

/**
 * `rfc4880` is the default: v4 keys with Ed25519 (EdDSA, algorithm 22) signing and X25519
 * (ECDH Curve25519, algorithm 18) encryption, what GnuPG 2.2/2.4 and Sequoia 1.x read.
 * `rfc9580` makes v6 keys with the new Ed25519/X25519 algorithms (27/25) and AEAD (SEIPD v2).
 */
export type KeyProfile = 'rfc4880' | 'rfc9580';
export const KEY_PROFILES: Record<KeyProfile, string> = {
  rfc4880: 'v4 Ed25519 + X25519 (EdDSA/ECDH legacy encoding; GnuPG, Sequoia, Thunderbird)',
  rfc9580: 'v6 Ed25519 + X25519 (RFC 9580, AEAD)',
};

export interface GenerateKeyInput {
  /** User IDs as written (`Name <a@b>`, or only an address). */
  userIds: string[];
  /** Seconds after creation; 0 or absent: never expires. */
  expiresInSeconds?: number;
  now: Date;
  profile?: KeyProfile;
  /** Encrypt the secret key material with this passphrase (the vault's keys have none). */
  passphrase?: string;
  /** No encryption subkey (`sop generate-key --signing-only`). */
  signingOnly?: boolean;
}

export interface GeneratedKey {
  /** Transferable secret key, binary. */
  secretKey: Uint8Array;
  /** Its certificate (transferable public key), binary. */
  certificate: Uint8Array;
  fingerprint: string;
  revocationCertificate: string;
}

function toUserId(text: string): openpgp.UserID {
  const angle = /^(.*?)\s*<([^<>]+)>\s*$/.exec(text);
  if (angle) return angle[1] ? { name: angle[1], email: angle[2] } : { email: angle[2] };
  return text.includes('@') && !/\s/.test(text) ? { email: text } : { name: text };
}

export async function generateKey(input: GenerateKeyInput): Promise<GeneratedKey> {
  const openpgp = await openpgpLibrary();
  const profile = input.profile ?? 'rfc4880';
  const v6 = profile === 'rfc9580';
  const options = {
    // SOP allows a key without user IDs; OpenPGP.js needs one for v4 keys (a v6 key may have none).
    userIDs: input.userIds.length ? input.userIds.map(toUserId) : v6 ? [] : [{ name: '' }],
    date: input.now,
    keyExpirationTime: input.expiresInSeconds && input.expiresInSeconds > 0 ? input.expiresInSeconds : 0,
    passphrase: input.passphrase,
    format: 'object' as const,
    subkeys: input.signingOnly ? [] : undefined,
    // SHA-256 first in the key's preferences, so our PGP/MIME signatures say micalg=pgp-sha256.
    config: { v6Keys: v6, aeadProtect: v6, preferredHashAlgorithm: openpgp.enums.hash.sha256 },
    ...(v6 ? { type: 'curve25519' as const } : { type: 'ecc' as const, curve: 'ed25519Legacy' as const }),
  };
  const { privateKey, publicKey, revocationCertificate } = await openpgp.generateKey(options);
  return { secretKey: privateKey.write(), certificate: publicKey.write(), fingerprint: publicKey.getFingerprint().toUpperCase(), revocationCertificate };
}

const ARMOR_START = '-----BEGIN PGP';

export function isArmored(data: Uint8Array): boolean {
  const head = Buffer.from(data.subarray(0, 1024)).toString('latin1');
  return head.trimStart().startsWith(ARMOR_START);
}

function badKey(what: string, cause: unknown): MailError {
  return new MailError(554, '5.7.0', `${what} is not a readable OpenPGP key: ${(cause as Error).message}`, 'e2e', { cause });
}

const parsedCertificates = new ParsedKeyCache<openpgp.PublicKey[]>(1024, 60 * 60_000);
const parsedSecretKeys = new ParsedKeyCache<openpgp.PrivateKey[]>(256, 10 * 60_000);

/** Every certificate in the input (a keyring may hold several); secret keys are reduced to their certificate. */
export async function readCertificates(data: Uint8Array): Promise<openpgp.PublicKey[]> {
  const openpgp = await openpgpLibrary();
  const keys = await parsedCertificates.get(data, async () => {
    try {
      const keys = isArmored(data) ? await openpgp.readKeys({ armoredKeys: Buffer.from(data).toString('utf8') }) : await openpgp.readKeys({ binaryKeys: data });
      return keys.map((k) => (k.isPrivate() ? k.toPublic() : (k as openpgp.PublicKey)));
    } catch (error) {
      throw badKey('A certificate', error);
    }
  });
  return [...keys];
}

/** Every secret key in the input; a certificate without secret material is refused. */
export async function readSecretKeys(data: Uint8Array): Promise<openpgp.PrivateKey[]> {
  const openpgp = await openpgpLibrary();
  const keys = await parsedSecretKeys.get(data, async () => {
    let keys: openpgp.Key[];
    try {
      keys = isArmored(data) ? await openpgp.readKeys({ armoredKeys: Buffer.from(data).toString('utf8') }) : await openpgp.readKeys({ binaryKeys: data });
    } catch (error) {
      throw badKey('A secret key', error);
    }
    const secret = keys.filter((k): k is openpgp.PrivateKey => k.isPrivate());
    if (secret.length !== keys.length) throw new MailError(554, '5.7.0', 'A secret key was expected, but the input holds only a certificate', 'e2e');
    return secret;
  });
  return [...keys];
}

/** The address of a user ID (`Name <a@b>` or a bare address), lower-cased; null when it has none. */
export function addressOfUserId(userId: string): string | null {
  const angle = /<([^<>@\s]+@[^<>\s]+)>/.exec(userId);
  if (angle) return angle[1].toLowerCase();
  return /^[^\s<>@]+@[^\s<>@]+$/.test(userId.trim()) ? userId.trim().toLowerCase() : null;
}

export interface CertificateFacts {
  fingerprint: string;
  keyId: string;
  userIds: string[];
  addresses: string[];
  createdAt: Date;
  /** null: never expires. */
  expiresAt: Date | null;
  revoked: boolean;
  /** Usable now: not revoked, not expired, has a valid subkey (or primary) for the purpose. */
  canEncrypt: boolean;
  canSign: boolean;
  version: number;
  hasSecret: boolean;
}

async function usable(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    return (await fn()) != null;
  } catch {
    return false;
  }
}

export async function inspectKey(key: openpgp.Key, now: Date): Promise<CertificateFacts> {
  const expiry = await key.getExpirationTime().catch(() => null);
  const userIds = key.getUserIDs();
  return {
    fingerprint: key.getFingerprint().toUpperCase(),
    keyId: key.getKeyID().toHex().toUpperCase(),
    userIds,
    addresses: [...new Set(userIds.map(addressOfUserId).filter((a): a is string => a !== null))],
    createdAt: key.getCreationTime(),
    expiresAt: expiry instanceof Date ? expiry : null,
    revoked: await key.isRevoked(undefined, undefined, now).catch(() => true),
    canEncrypt: await usable(() => key.getEncryptionKey(undefined, now)),
    canSign: await usable(() => key.getSigningKey(undefined, now)),
    version: key.keyPacket.version,
    hasSecret: key.isPrivate(),
  };
}

/** What `keys show` and the key store need to know of a certificate (the first one in the input). */
export async function inspectCertificate(data: Uint8Array, now: Date): Promise<CertificateFacts> {
  const openpgp = await openpgpLibrary();
  const keys = isArmored(data) ? await openpgp.readKeys({ armoredKeys: Buffer.from(data).toString('utf8') }).catch((e) => { throw badKey('A certificate', e); }) : await openpgp.readKeys({ binaryKeys: data }).catch((e) => { throw badKey('A certificate', e); });
  return inspectKey(keys[0], now);
}
