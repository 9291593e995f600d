import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { keyObject } from '../vault/index.ts';
import { hashRaw, type Algorithm } from '@node-rs/argon2';
import { legacyAnswerForm, normalizeAnswer } from './answers.ts';

/*
 * Keys of a pickup message (docs/architecture.md §5). A random data key (DEK) encrypts the content; it
 * is wrapped under a key derived from the server share, the message password and, when the
 * sender set one, the Argon2id output of a passphrase or answer. Nothing stored lets anyone
 * test a guess: the only check of the credentials is whether the wrap authenticates.
 */

export type PickupFailure = 'not-found' | 'withdrawn' | 'locked' | 'wrong-credentials' | 'rate-limited' | 'code-expired' | 'code-required';

/** The form field a failure is about, so the page can mark it (aria-invalid) and keep the others. */
export type CredentialField = 'password' | 'secret' | 'code';

/** What went wrong when opening a pickup message; `reason` maps to the page the recipient sees. */
export class PickupError extends Error {
  readonly reason: PickupFailure;
  readonly field: CredentialField | undefined;
  /** Set when the attempt came from a browser the message is not bound to (browser-binding.ts). */
  newBrowser = false;
  constructor(reason: PickupFailure, message: string, field?: CredentialField) {
    super(message);
    this.name = 'PickupError';
    this.reason = reason;
    this.field = field;
  }
}

export const isPickupError = (error: unknown, reason?: PickupFailure): error is PickupError =>
  error instanceof PickupError && (reason === undefined || error.reason === reason);

// Crockford base32: no I, L, O, U, so what is read aloud or typed maps back unambiguously.
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const PASSWORD_CHARS = 28; // 140 bits, shown as 7 groups of 4
const GROUP = 4;

/** A fresh message password: 140 random bits as `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`. */
export function newMessagePassword(): string {
  const bytes = randomBytes(Math.ceil((PASSWORD_CHARS * 5) / 8));
  let chars = '';
  for (let i = 0; i < PASSWORD_CHARS; i++) {
    const bit = i * 5;
    const pair = (bytes[bit >> 3] << 8) | (bytes[(bit >> 3) + 1] ?? 0);
    chars += CROCKFORD[(pair >> (11 - (bit & 7))) & 31];
  }
  return chars.match(new RegExp(`.{1,${GROUP}}`, 'g'))!.join('-');
}

/** The canonical form of a typed password: case, spaces and dashes ignored; O→0, I/L→1. */
export function normalizePassword(input: string): string {
  return input
    .toUpperCase()
    .replace(/[\s\-_.]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
}

/** True when the input could be a message password (before any key work is spent on it). */
export function isWellFormedPassword(input: string): boolean {
  const normal = normalizePassword(input);
  return normal.length === PASSWORD_CHARS && [...normal].every((c) => CROCKFORD.includes(c));
}

export const newDataKey = (): Buffer => randomBytes(32);
export const newServerShare = (): Buffer => randomBytes(32);

export interface WrapInputs {
  serverShare: Buffer;
  messagePassword: string;
  /** Argon2id output of the sender's passphrase or answer (deriveSecretShare). */
  secretShare?: Buffer;
  messageId: string;
}

const WRAP_VERSION = 1;
const SALT_LEN = 16;
const IV_LEN = 12;
const TAG_LEN = 16;
const WRAPPED_LEN = 1 + SALT_LEN + IV_LEN + TAG_LEN + 32;

function keyEncryptionKey(inputs: WrapInputs, salt: Buffer): Buffer {
  if (inputs.serverShare.length !== 32) throw new Error('server share must be 32 bytes');
  if (inputs.secretShare && inputs.secretShare.length !== 32) throw new Error('secret share must be 32 bytes');
  const password = Buffer.from(normalizePassword(inputs.messagePassword), 'utf8');
  // The password's length is written before it so the shares cannot slide into each other.
  const passwordLength = Buffer.alloc(2);
  passwordLength.writeUInt16BE(password.length);
  const ikm = Buffer.concat([inputs.serverShare, passwordLength, password, inputs.secretShare ?? Buffer.alloc(0)]);
  const info = Buffer.from(`sealgate pickup kek v1${inputs.messageId}`, 'utf8');
  return Buffer.from(hkdfSync('sha256', keyObject(ikm), salt, info, 32));
}

/** Wraps the DEK: version | salt 16 | iv 12 | tag 16 | ciphertext 32, AAD the message id. */
export function wrapDataKey(dek: Buffer, inputs: WrapInputs): Buffer {
  if (dek.length !== 32) throw new Error('data key must be 32 bytes');
  const salt = randomBytes(SALT_LEN);
  const iv = randomBytes(IV_LEN);
  const cipher = createCipheriv('aes-256-gcm', keyObject(keyEncryptionKey(inputs, salt)), iv);
  cipher.setAAD(Buffer.from(inputs.messageId, 'utf8'));
  const ct = Buffer.concat([cipher.update(dek), cipher.final()]);
  return Buffer.concat([Buffer.from([WRAP_VERSION]), salt, iv, cipher.getAuthTag(), ct]);
}

/** Unwraps the DEK; a wrong password, share or secret fails GCM authentication. */
export function unwrapDataKey(wrapped: Buffer, inputs: WrapInputs): Buffer {
  if (wrapped.length !== WRAPPED_LEN || wrapped[0] !== WRAP_VERSION) {
    throw new Error(`wrapped data key of message ${inputs.messageId} is damaged or of an unknown version`);
  }
  const salt = wrapped.subarray(1, 1 + SALT_LEN);
  const iv = wrapped.subarray(1 + SALT_LEN, 1 + SALT_LEN + IV_LEN);
  const tag = wrapped.subarray(1 + SALT_LEN + IV_LEN, 1 + SALT_LEN + IV_LEN + TAG_LEN);
  const ct = wrapped.subarray(1 + SALT_LEN + IV_LEN + TAG_LEN);
  const decipher = createDecipheriv('aes-256-gcm', keyObject(keyEncryptionKey(inputs, salt)), iv);
  decipher.setAAD(Buffer.from(inputs.messageId, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  } catch {
    throw new PickupError('wrong-credentials', 'The message password or the passphrase is not right. Check the notice e-mail and try again.');
  }
}

// OWASP's Argon2id baseline (m=19 MiB, t=2, p=1), as for account passwords.
const ARGON2 = { memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32, algorithm: 2 as Algorithm } as const;

/**
 * Answers are matched loosely (answers.ts: case, spaces, punctuation); a passphrase only up to
 * Unicode normalisation and outer spaces, since its exact form is the point.
 */
export function normalizeSecret(secret: string, kind: 'passphrase' | 'answer'): string {
  if (kind === 'passphrase') return secret.normalize('NFC').trim();
  return normalizeAnswer(secret);
}

/** The third share: Argon2id (raw 32 bytes) of a passphrase or answer under a per-message salt. */
export async function deriveSecretShare(secret: string, salt: Buffer, kind: 'passphrase' | 'answer' = 'passphrase'): Promise<Buffer> {
  return argon2Share(normalizeSecret(secret, kind), salt);
}

/** Argon2id of a secret already in its compared form (tests seal a message as a release before issue 10 did). */
export async function argon2Share(normalized: string, salt: Buffer): Promise<Buffer> {
  if (salt.length < 16) throw new Error('secret salt must be at least 16 bytes');
  return hashRaw(normalized, { ...ARGON2, salt });
}

/**
 * Unwraps the DEK with a typed passphrase or answer. An answer is tried in today's form and,
 * when it differs, in the form used before issue 10 (answers.ts `legacyAnswerForm`), so
 * messages sealed before keep opening; both come from the one guess the gate reserved.
 */
export async function unwrapWithSecret(wrapped: Buffer, inputs: Omit<WrapInputs, 'secretShare'>, secret: string, salt: Buffer, kind: 'passphrase' | 'answer'): Promise<Buffer> {
  const forms = kind === 'answer' ? [...new Set([normalizeAnswer(secret), legacyAnswerForm(secret)])] : [normalizeSecret(secret, kind)];
  let failure: unknown;
  for (const form of forms) {
    try {
      return unwrapDataKey(wrapped, { ...inputs, secretShare: await argon2Share(form, salt) });
    } catch (error) {
      if (!isPickupError(error, 'wrong-credentials')) throw error;
      failure = error;
    }
  }
  throw failure;
}

/** Small values (subject, file names) sealed under the DEK, bound to their place by the AAD. */
export function sealValue(key: Buffer, plain: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_LEN);
  const cipher = createCipheriv('aes-256-gcm', keyObject(key), iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

export function openValue(key: Buffer, sealed: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', keyObject(key), sealed.subarray(0, IV_LEN));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(IV_LEN, IV_LEN + TAG_LEN));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(IV_LEN + TAG_LEN)), decipher.final()]);
  } catch {
    throw new Error(`sealed ${aad} fails authentication: the stored message is damaged`);
  }
}

/** A key for one purpose, derived from a longer-lived key (part keys from the DEK, the code key from the master key). */
export function subkey(key: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', keyObject(key), Buffer.alloc(0), Buffer.from(info, 'utf8'), 32));
}

/**
 * The key that seals the message passwords of replies to a message: derived from that
 * message's server share, so its retraction or expiry shreds the replies too (issue 9 item 8),
 * where a seal under the master key alone opened them from any copy of the data dir.
 */
export function replyPasswordKey(serverShare: Buffer, messageId: string): Buffer {
  return subkey(serverShare, `sealgate reply password v1 ${messageId}`);
}
