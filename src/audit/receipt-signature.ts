import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './chain.ts';

/*
 * Signed proof of delivery (issue 12). Each final outcome of a recipient (delivered, failed,
 * held for pickup) and each pickup opened is one canonical JSON document signed with the
 * gateway's Ed25519 receipt key. The key is derived from the master key under its own label
 * (runtime.ts), so it is not the audit checkpoint key. The signature is plain Ed25519 over the
 * document's UTF-8 bytes: `openssl pkeyutl -verify -rawin` checks it with the public key alone.
 */

export type ReceiptKind = 'delivered' | 'failed' | 'held-for-pickup' | 'pickup-opened';

/** What a receipt says; `format` keeps these bytes from ever meaning anything else. */
export interface ReceiptDocument {
  format: 'sealgate-receipt-v1';
  kind: ReceiptKind;
  /** The queue ID (`sealgate queue show`). */
  messageId: string;
  mailFrom: string;
  recipient: string;
  /** ISO 8601, UTC, milliseconds. */
  at: string;
  mxHost: string | null;
  /** The server's address; for `pickup-opened`, the address the pickup was opened from. */
  ip: string | null;
  port: number | null;
  tlsVersion: string | null;
  cipher: string | null;
  certSubject: string | null;
  /** SHA-256 of the server certificate (DER), lowercase hex. */
  certFingerprint: string | null;
  certVerified: boolean;
  /** The remote server's reply verbatim, or our own reason when no server answered. */
  reply: string;
  route: string | null;
  routeReason: string | null;
  /** SHA-256 of the DATA bytes written to the socket, lowercase hex (see docs/flow.md). */
  messageSha256: string | null;
}

export interface SignedReceipt {
  /** The exact signed bytes as text: their UTF-8 encoding is what the signature covers. */
  signed: string;
  /** base64 Ed25519 signature (64 bytes) over the UTF-8 bytes of `signed`. */
  signature: string;
}

export interface ReceiptSigner {
  /** SubjectPublicKeyInfo PEM: what `sealgate receipt key` publishes. */
  publicKeyPem: string;
  /** SHA-256 of the public key's DER, hex: a short name to compare keys by. */
  keyFingerprint: string;
  sign(document: ReceiptDocument): SignedReceipt;
}

// PKCS#8 prefix of an Ed25519 private key (RFC 8410 §7) before its 32-byte seed.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The canonical bytes of a receipt: sorted keys, no whitespace, UTF-8. */
export function receiptBytes(document: ReceiptDocument): Buffer {
  return Buffer.from(canonicalJson(document), 'utf8');
}

/** A signer from a 32-byte seed (the runtime derives it from the master key). */
export function receiptSigner(seed: Buffer): ReceiptSigner {
  if (seed.length !== 32) throw new Error('receipt signing seed must be 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyFingerprint: keyFingerprint(publicKey),
    sign: (document) => {
      const bytes = receiptBytes(document);
      return { signed: bytes.toString('utf8'), signature: sign(null, bytes, privateKey).toString('base64') };
    },
  };
}

function keyFingerprint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Reads a PEM public key; an Ed25519 one only. Throws a sentence naming what is wrong. */
export function receiptPublicKey(pem: string): { key: KeyObject; fingerprint: string } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new Error(`the receipt key is not a PEM public key: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the receipt key is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  return { key, fingerprint: keyFingerprint(key) };
}

/**
 * Checks one receipt: the signature over the exact bytes, then that the bytes are a receipt
 * document. Returns the document, or why it is not valid (a sentence).
 */
export function verifyReceipt(signed: Buffer | string, signature: string, publicKeyPem: string): { valid: true; document: ReceiptDocument } | { valid: false; reason: string } {
  const bytes = typeof signed === 'string' ? Buffer.from(signed, 'utf8') : signed;
  let key: KeyObject;
  try {
    key = receiptPublicKey(publicKeyPem).key;
  } catch (error) {
    return { valid: false, reason: (error as Error).message };
  }
  const raw = Buffer.from(signature, 'base64');
  if (raw.length !== 64) return { valid: false, reason: `the signature is ${raw.length} bytes, an Ed25519 signature is 64` };
  let holds = false;
  try {
    holds = verify(null, bytes, key, raw);
  } catch {
    holds = false;
  }
  if (!holds) return { valid: false, reason: 'the signature does not match the signed bytes under this key (changed bytes, or another key)' };
  let document: unknown;
  try {
    document = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { valid: false, reason: 'the signed bytes are not JSON' };
  }
  if (!document || typeof document !== 'object' || (document as { format?: unknown }).format !== 'sealgate-receipt-v1') return { valid: false, reason: 'the signed bytes are not a Sealgate receipt' };
  // Signed, but not in the canonical form this gateway writes: not one of ours.
  if (canonicalJson(document) !== bytes.toString('utf8')) return { valid: false, reason: 'the signed bytes are not in canonical form' };
  return { valid: true, document: document as ReceiptDocument };
}
