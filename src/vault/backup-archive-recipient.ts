/**
 * Backup to a recipient key (issue 13 "Backup"): age-style X25519. The archive's random file
 * key is wrapped for one X25519 public key: an ephemeral key pair, the X25519 agreement with the
 * recipient, HKDF-SHA256 over it (salted with both public keys, as age does) and AES-256-GCM.
 * Whoever holds the identity (the private key) unwraps the file key; nobody else, the gateway
 * included, can read the archive once written.
 *
 * Not the age format itself: age's payload is ChaCha20-Poly1305 in 64 KiB STREAM chunks under
 * an HMAC'd header, and its keys are Bech32. Writing it by hand would be protocol code of our
 * own twice over (no age library is in package.json and none is added for this); the archive
 * keeps the vault's chunked AES-256-GCM stream that the passphrase mode already uses, and only
 * the key wrap follows age's X25519 recipient construction, with node:crypto alone.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { BackupError } from './backup-archive-error.ts';

const PUBLIC_PREFIX = 'sealgate-backup-x25519:';
const IDENTITY_PREFIX = 'SEALGATE-BACKUP-IDENTITY-X25519:';
const INFO = Buffer.from('sealgate-backup x25519 v1');
const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;

/** What the archive header holds for a recipient: nothing secret (the wrapped key is sealed). */
export interface RecipientStanza {
  name: 'x25519';
  /** The ephemeral public key, base64url. */
  epk: string;
  /** The recipient's public key, base64url: tells which identity opens it. */
  to: string;
  /** The file key sealed with AES-256-GCM: 12-byte nonce, 32 bytes, 16-byte tag; base64. */
  wrapped: string;
}

export interface BackupKeyPair {
  /** One line to give to `backup create --recipient`. */
  publicKey: string;
  /** The identity file's content: keep it offline; it opens every backup made to its key. */
  identity: string;
}

const rawPublic = (key: KeyObject) => key.export({ format: 'jwk' }).x as string;

export function generateBackupKeyPair(): BackupKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    publicKey: `${PUBLIC_PREFIX}${rawPublic(publicKey)}`,
    identity: `# Sealgate backup identity: opens backups made to ${PUBLIC_PREFIX}${jwk.x as string}\n${IDENTITY_PREFIX}${jwk.d as string}\n`,
  };
}

/** Parses `sealgate-backup-x25519:…`; a BackupError in words otherwise. */
export function parseRecipient(text: string): KeyObject {
  const value = text.trim();
  const raw = value.startsWith(PUBLIC_PREFIX) ? value.slice(PUBLIC_PREFIX.length) : '';
  if (!B64URL_32.test(raw)) throw new BackupError(`a backup recipient is a line starting ${PUBLIC_PREFIX} (as printed by sealgate backup keygen)`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw }, format: 'jwk' });
}

/** Parses an identity file's content (comment lines allowed). */
export function parseIdentity(text: string): KeyObject {
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l.startsWith(IDENTITY_PREFIX));
  const d = line?.slice(IDENTITY_PREFIX.length) ?? '';
  if (!B64URL_32.test(d)) throw new BackupError(`the identity file holds no line starting ${IDENTITY_PREFIX} (made by sealgate backup keygen)`);
  const seed = Buffer.from(d, 'base64url');
  // PKCS#8 for X25519 is a fixed 16-byte prefix and the 32-byte private key (RFC 8410).
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), seed]);
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
}

function wrapKey(shared: Buffer, epk: string, to: string): Buffer {
  const salt = Buffer.concat([Buffer.from(epk, 'base64url'), Buffer.from(to, 'base64url')]);
  return Buffer.from(hkdfSync('sha256', shared, salt, INFO, 32));
}

/** Seals `fileKey` for `recipient`. */
export function sealFileKey(fileKey: Buffer, recipient: KeyObject): RecipientStanza {
  const ephemeral = generateKeyPairSync('x25519');
  const epk = rawPublic(ephemeral.publicKey);
  const to = rawPublic(recipient);
  const key = wrapKey(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient }), epk, to);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const sealed = Buffer.concat([cipher.update(fileKey), cipher.final()]);
  return { name: 'x25519', epk, to, wrapped: Buffer.concat([nonce, sealed, cipher.getAuthTag()]).toString('base64') };
}

/** Opens a stanza with `identity`; a wrong identity or an edited header throws a BackupError. */
export function openFileKey(stanza: RecipientStanza, identity: KeyObject): Buffer {
  const mine = rawPublic(createPublicKey(identity));
  if (stanza.to !== mine) throw new BackupError(`this identity does not open the backup: it was made to ${PUBLIC_PREFIX}${stanza.to}, the identity is for ${PUBLIC_PREFIX}${mine}`);
  const wrapped = Buffer.from(stanza.wrapped, 'base64');
  if (wrapped.length !== 12 + 32 + 16 || !B64URL_32.test(stanza.epk)) throw new BackupError('the backup header is damaged');
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: identity, publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: stanza.epk }, format: 'jwk' }) });
  } catch {
    throw new BackupError('the backup header is damaged');
  }
  const decipher = createDecipheriv('aes-256-gcm', wrapKey(shared, stanza.epk, stanza.to), wrapped.subarray(0, 12));
  decipher.setAuthTag(wrapped.subarray(44));
  try {
    return Buffer.concat([decipher.update(wrapped.subarray(12, 44)), decipher.final()]);
  } catch {
    throw new BackupError('the backup cannot be opened with this identity: the file was changed, or the identity is not the one it was made to');
  }
}
