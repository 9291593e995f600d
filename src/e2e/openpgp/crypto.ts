/**
 * The OpenPGP operations both the mail protector and `sealgate sop` use, over OpenPGP.js v6:
 * detached signing and verification, encryption (optionally signed inside), decryption. A
 * message without integrity protection (a Symmetrically Encrypted Data packet, no MDC/SEIPD)
 * is refused before any decryption is tried (EFAIL, RFC 9580 §5.7).
 */
import type * as openpgp from 'openpgp';
import type * as OpenPgp from 'openpgp';
import { openpgpLibrary } from '../libraries.ts';
import './decompression.ts';
import { MailError } from '../../kernel/index.ts';
import { armorMessage, dearmorMessage } from './armor.ts';
import { addressOfUserId, isArmored } from './keys.ts';

/** openpgp.enums.hash.sha256 (RFC 9580 §9.5), written out: OpenPGP.js is not loaded yet when this module is. */
const SHA256 = 8 as openpgp.enums.hash;

/**
 * SHA-256 where the key allows it (v6 Ed25519: micalg=pgp-sha256). OpenPGP.js takes at least
 * SHA-512 for EdDSA-legacy keys (its curve table), so v4 signatures say pgp-sha512: micalg always
 * names the hash actually used (RFC 3156 §5).
 */
export const SIGNING_CONFIG = { preferredHashAlgorithm: SHA256 };

/**
 * Signatures checked on one message or signature part: a sender signs once or twice, and each
 * check is public-key work a stranger can order by the thousand (a 50 MB message holds ~250,000
 * copies of one signature packet, ~45 s of CPU).
 */
export const MAX_SIGNATURES = 16;

/**
 * Public-key session key packets tried with our keys, those naming one of them or anonymous: a
 * sender writes one per recipient key, and each try is public-key work (5,000 copies naming
 * bob's key, 480 KB, cost 2.5 s).
 */
export const MAX_SESSION_KEY_TRIES = 8;
const WILDCARD_KEY_ID = '0000000000000000';

function tooManySignatures(count: number): MailError {
  return new MailError(550, '5.6.0', `The OpenPGP data holds ${count} signatures; more than ${MAX_SIGNATURES} are not checked`, 'e2e');
}

export function integrityRefusal(): MailError {
  return new MailError(550, '5.7.1', 'The message is encrypted without integrity protection (no MDC or SEIPD), so it could have been changed in transit; it is refused', 'e2e');
}

/** Reads an OpenPGP message, armored or binary. */
export async function readMessage(data: Uint8Array): Promise<openpgp.Message<Uint8Array>> {
  const openpgp = await openpgpLibrary();
  try {
    if (!isArmored(data)) return await openpgp.readMessage({ binaryMessage: data });
    const binary = dearmorMessage(data);
    if (binary) return await openpgp.readMessage({ binaryMessage: binary });
    return (await openpgp.readMessage({ armoredMessage: Buffer.from(data).toString('utf8') })) as openpgp.Message<Uint8Array>;
  } catch (error) {
    throw new MailError(550, '5.6.0', `The OpenPGP message cannot be read: ${(error as Error).message}`, 'e2e', { cause: error });
  }
}

/** True when the message's encrypted data lacks integrity protection (tag 9, not SEIPD/AEAD). */
export function lacksIntegrity(openpgp: typeof OpenPgp, message: openpgp.Message<Uint8Array>): boolean {
  return message.packets.some((p) => p instanceof openpgp.SymmetricallyEncryptedDataPacket);
}

export async function signDetached(data: Uint8Array, signers: openpgp.PrivateKey[], now: Date, options: { armor?: boolean; text?: boolean } = {}): Promise<{ signature: Uint8Array; hash: string }> {
  const openpgp = await openpgpLibrary();
  const message = options.text ? await openpgp.createMessage({ text: Buffer.from(data).toString('utf8') }) : await openpgp.createMessage({ binary: data });
  const signed = await openpgp.sign({ message, signingKeys: signers, detached: true, date: now, format: 'object', config: SIGNING_CONFIG });
  const sig = signed as unknown as openpgp.Signature;
  const hashId = sig.packets[0]?.hashAlgorithm ?? openpgp.enums.hash.sha256;
  const hash = (openpgp.enums.read(openpgp.enums.hash, hashId) as string).toLowerCase();
  const armored = options.armor !== false;
  return { signature: armored ? Buffer.from(sig.armor()) : sig.write(), hash };
}

export interface Verification {
  valid: boolean;
  /** Primary key fingerprint of the certificate that made it, when we have it. */
  certificate: openpgp.PublicKey | null;
  /** Fingerprint of the (sub)key that made it. */
  signingKeyFingerprint: string | null;
  keyId: string;
  signedAt: Date | null;
  /** Signature over text (type 0x01) rather than binary (0x00). */
  textMode: boolean;
  error: string | null;
}

/** Each signature's outcome: the library's verdict, which certificate made it, and when. */
export async function checkSignatures(results: Awaited<ReturnType<typeof openpgp.verify>>["signatures"], certs: openpgp.PublicKey[]): Promise<Verification[]> {
  const openpgp = await openpgpLibrary();
  const out: Verification[] = [];
  for (const result of results) {
    const keyId = result.keyID.toHex().toUpperCase();
    const certificate = certs.find((c) => c.getKeys(result.keyID).length > 0) ?? null;
    const signingKey = certificate?.getKeys(result.keyID)[0] ?? null;
    let signature: openpgp.Signature | null = null;
    try {
      signature = await result.signature;
    } catch {
      signature = null;
    }
    const packet = signature?.packets[0];
    let valid = false;
    let error: string | null = null;
    try {
      valid = (await result.verified) === true;
    } catch (e) {
      error = (e as Error).message;
    }
    out.push({
      valid: valid && certificate !== null,
      certificate,
      signingKeyFingerprint: signingKey ? signingKey.getFingerprint().toUpperCase() : null,
      keyId,
      signedAt: packet?.created ?? null,
      textMode: packet?.signatureType === openpgp.enums.signature.text,
      error,
    });
  }
  return out;
}

export async function verifyDetached(data: Uint8Array, signature: Uint8Array, certs: openpgp.PublicKey[], now: Date): Promise<Verification[]> {
  const openpgp = await openpgpLibrary();
  let sig: openpgp.Signature;
  try {
    sig = isArmored(signature) ? await openpgp.readSignature({ armoredSignature: Buffer.from(signature).toString('utf8') }) : await openpgp.readSignature({ binarySignature: signature });
  } catch (error) {
    throw new MailError(550, '5.6.0', `The OpenPGP signature cannot be read: ${(error as Error).message}`, 'e2e', { cause: error });
  }
  if (sig.packets.length > MAX_SIGNATURES) throw tooManySignatures(sig.packets.length);
  const textMode = sig.packets.some((p) => p.signatureType === openpgp.enums.signature.text);
  const message = textMode ? await openpgp.createMessage({ text: Buffer.from(data).toString('utf8') }) : await openpgp.createMessage({ binary: data });
  const result = await openpgp.verify({ message, signature: sig, verificationKeys: certs, date: now, format: 'binary' });
  return checkSignatures(result.signatures, certs);
}

export async function encryptTo(data: Uint8Array, input: { recipients: openpgp.PublicKey[]; signers?: openpgp.PrivateKey[]; passwords?: string[]; now: Date; armor?: boolean; text?: boolean; lineEnd?: '\n' | '\r\n' }): Promise<Uint8Array> {
  const openpgp = await openpgpLibrary();
  const message = input.text ? await openpgp.createMessage({ text: Buffer.from(data).toString('utf8') }) : await openpgp.createMessage({ binary: data });
  const common = {
    message,
    encryptionKeys: input.recipients.length ? input.recipients : undefined,
    signingKeys: input.signers?.length ? input.signers : undefined,
    passwords: input.passwords?.length ? input.passwords : undefined,
    date: input.now,
    config: SIGNING_CONFIG,
  };
  if (input.armor === false) return await openpgp.encrypt({ ...common, format: 'binary' });
  const encrypted = await openpgp.encrypt({ ...common, format: 'object' });
  return armorMessage(await readAll(encrypted.write()), wantsChecksum(openpgp, encrypted), input.lineEnd);
}

/** AEAD (v2 SEIPD) packets write as the library's array stream (it has getReader()) even for in-memory input. */
async function readAll(written: unknown): Promise<Uint8Array> {
  if (written instanceof Uint8Array) return written;
  const reader = (written as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
  return Buffer.concat(chunks);
}

/** OpenPGP.js's own rule (Message.armor): no CRC-24 after a v2 SEIPD packet or on v6-only signatures (RFC 9580 §6.1). */
function wantsChecksum(openpgp: typeof OpenPgp, message: openpgp.Message<Uint8Array>): boolean {
  const last = message.packets[message.packets.length - 1];
  if (last instanceof openpgp.SymEncryptedIntegrityProtectedDataPacket) return (last as unknown as { version: number }).version !== 2;
  return message.packets.some((p) => p instanceof openpgp.SignaturePacket && p.version !== 6);
}

export interface Decrypted {
  data: Uint8Array;
  signatures: Verification[];
  sessionKey: { algorithm: string; data: Uint8Array } | null;
}

/** Decrypts with our keys (or passwords / a session key); refuses integrity-less data first. */
export async function decryptWith(ciphertext: Uint8Array, input: { keys?: openpgp.PrivateKey[]; passwords?: string[]; sessionKeys?: { algorithm: string; data: Uint8Array }[]; verify?: openpgp.PublicKey[]; now: Date; wantSessionKey?: boolean }): Promise<Decrypted> {
  const openpgp = await openpgpLibrary();
  const message = await readMessage(ciphertext);
  if (lacksIntegrity(openpgp, message)) throw integrityRefusal();
  if (input.keys?.length) {
    const ours = new Set(input.keys.flatMap((k) => k.getKeyIDs().map((id) => id.toHex())));
    // publicKeyID: set for v3 and v6 packets alike (wildcard when anonymous); not in the library's types.
    const keyIdOf = (p: unknown) => (p as { publicKeyID: openpgp.KeyID }).publicKeyID.toHex();
    const tried = message.packets.filter((p) => p instanceof openpgp.PublicKeyEncryptedSessionKeyPacket && (keyIdOf(p) === WILDCARD_KEY_ID || ours.has(keyIdOf(p)))).length;
    if (tried > MAX_SESSION_KEY_TRIES) throw new MailError(550, '5.6.0', `The OpenPGP message holds ${tried} session keys for our keys (or for anyone); more than ${MAX_SESSION_KEY_TRIES} are not tried`, 'e2e');
  }
  let sessionKey: Decrypted['sessionKey'] = null;
  let sessionKeys = input.sessionKeys?.map((k) => ({ algorithm: k.algorithm as openpgp.enums.symmetricNames, data: k.data }));
  try {
    if (input.wantSessionKey && !sessionKeys?.length) {
      const found = await openpgp.decryptSessionKeys({ message, decryptionKeys: input.keys, passwords: input.passwords, date: input.now });
      const first = found[0];
      if (first?.algorithm) {
        sessionKey = { algorithm: first.algorithm, data: first.data };
        sessionKeys = [{ algorithm: first.algorithm as openpgp.enums.symmetricNames, data: first.data }];
      }
    }
    const options = {
      // An empty list is not "none" to OpenPGP.js: pass only what was given.
      decryptionKeys: sessionKeys?.length || !input.keys?.length ? undefined : input.keys,
      passwords: sessionKeys?.length || !input.passwords?.length ? undefined : input.passwords,
      sessionKeys: sessionKeys?.length ? sessionKeys : undefined,
      date: input.now,
      format: 'binary' as const,
    };
    // OpenPGP.js starts checking every signature at once: count them first (without keys each
    // fails at once), then verify only a message that holds few enough.
    let result = await openpgp.decrypt({ message, ...options, verificationKeys: [] });
    if (result.signatures.length > MAX_SIGNATURES) throw tooManySignatures(result.signatures.length);
    if (input.verify?.length && result.signatures.length) result = await openpgp.decrypt({ message: await readMessage(ciphertext), ...options, verificationKeys: input.verify });
    const data = result.data instanceof Uint8Array ? result.data : new Uint8Array(0);
    return { data, signatures: await checkSignatures(result.signatures, input.verify ?? []), sessionKey };
  } catch (error) {
    if (error instanceof MailError) throw error;
    const text = (error as Error).message;
    // OpenPGP.js refuses integrity-less data on its own too (allowUnauthenticatedMessages is off).
    if (/not authenticated|Modification detection|MDC/i.test(text)) throw integrityRefusal();
    throw new MailError(550, '5.7.1', `The message cannot be decrypted with the keys Sealgate holds: ${text}`, 'e2e', { cause: error });
  }
}

/** The address a certificate speaks for (its primary user ID's), for a verdict. */
export async function signerAddress(cert: openpgp.PublicKey, now: Date): Promise<string> {
  try {
    const primary = await cert.getPrimaryUser(now);
    const id = primary.user.userID;
    return id?.email?.toLowerCase() || addressOfUserId(id?.userID ?? '') || id?.userID || cert.getFingerprint().toUpperCase();
  } catch {
    const ids = cert.getUserIDs();
    return ids.map(addressOfUserId).find((a) => a) ?? ids[0] ?? cert.getFingerprint().toUpperCase();
  }
}
