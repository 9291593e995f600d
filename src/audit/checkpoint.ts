import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './chain.ts';

/*
 * Signed chain heads. A checkpoint signs (seq, hash, at) with an Ed25519 key derived from the
 * master key: whoever can write the database but does not hold the master key cannot rebuild a
 * chain that matches the checkpoints, and an auditor checks them with the public key alone.
 */

export interface Checkpoint {
  seq: number;
  hash: string;
  at: number;
  /** base64 Ed25519 signature over checkpointBytes(). */
  signature: string;
  /** base64 raw Ed25519 public key that made it. */
  publicKey: string;
}

// PKCS#8 prefix of an Ed25519 private key (RFC 8410 §7) before its 32-byte seed.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface AuditSigner {
  publicKey: string;
  sign(seq: number, hash: string, at: number): Checkpoint;
}

export function checkpointBytes(seq: number, hash: string, at: number): Buffer {
  return Buffer.from(canonicalJson({ kind: 'sealgate-audit-checkpoint', seq, hash, at }), 'utf8');
}

/** A signer from a 32-byte seed (the runtime derives it from the master key). */
export function auditSigner(seed: Buffer): AuditSigner {
  if (seed.length !== 32) throw new Error('audit signing seed must be 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  return {
    publicKey,
    sign: (seq, hash, at) => ({ seq, hash, at, publicKey, signature: sign(null, checkpointBytes(seq, hash, at), privateKey).toString('base64') }),
  };
}

function rawPublicKey(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.from(String(jwk.x), 'base64url').toString('base64');
}

/** Whether a checkpoint's signature holds under the public key given (base64 raw Ed25519). */
export function checkpointValid(checkpoint: Checkpoint, publicKey: string): boolean {
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey, 'base64').toString('base64url') }, format: 'jwk' });
    return verify(null, checkpointBytes(checkpoint.seq, checkpoint.hash, checkpoint.at), key, Buffer.from(checkpoint.signature, 'base64'));
  } catch {
    return false;
  }
}
