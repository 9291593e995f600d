/**
 * The OpenPGP `Protector` (src/e2e/types.ts): PGP/MIME, RFC 3156. Signed is multipart/signed
 * with a detached signature (micalg=pgp-sha256); encrypted is multipart/encrypted with the
 * application/pgp-encrypted "Version: 1" part; signed and encrypted signs inside the encryption
 * (RFC 3156 §6.2, one OpenPGP message). Headers are protected per RFC 9788 (header-protection.ts).
 *
 * Unprotecting handles only a message whose top level is PGP/MIME: an encrypted part nested
 * among cleartext parts is left alone, never decrypted and spliced into them (EFAIL).
 */
import type * as openpgp from 'openpgp';
import { MailError } from '../../kernel/index.ts';
import type { HeaderField } from '../../mail/index.ts';
import type { PrivateKeyMaterial, ProtectOptions, Protector, PublicKeyMaterial, SignatureVerdict, UnprotectOptions, UnprotectResult } from '../types.ts';
import { decryptWith, encryptTo, signDetached, signerAddress, verifyDetached, type Verification } from './crypto.ts';
import { unwrapProtected, wrapForProtection } from './header-protection.ts';
import { inspectKey, readCertificates, readSecretKeys } from './keys.ts';
import { canonicalCrlf, header, line, multipart, multipartParts, newBoundary, parseContentType, quoted, splitEntity } from './mime.ts';

async function certificatesOf(materials: PublicKeyMaterial[]): Promise<openpgp.PublicKey[]> {
  const all: openpgp.PublicKey[] = [];
  for (const m of materials) if (m.kind === 'openpgp') all.push(...(await readCertificates(m.data)));
  return all;
}

async function secretKeysOf(materials: PrivateKeyMaterial[]): Promise<openpgp.PrivateKey[]> {
  const all: openpgp.PrivateKey[] = [];
  for (const m of materials) if (m.kind === 'openpgp') all.push(...(await readSecretKeys(m.key)));
  return all;
}

async function encryptionCertificates(materials: PublicKeyMaterial[], now: Date): Promise<openpgp.PublicKey[]> {
  const certs: openpgp.PublicKey[] = [];
  for (const m of materials) {
    if (m.kind !== 'openpgp') continue;
    for (const cert of await readCertificates(m.data)) {
      const facts = await inspectKey(cert, now);
      // The route should never pick an unusable key; if it did, refuse rather than leave a recipient out.
      if (!facts.canEncrypt) throw new MailError(550, '5.7.1', `The OpenPGP key ${facts.fingerprint} for ${m.address} cannot encrypt now (${facts.revoked ? 'revoked' : facts.expiresAt && facts.expiresAt <= now ? 'expired' : 'no usable encryption subkey'})`, 'e2e');
      certs.push(cert);
    }
  }
  if (!certs.length) throw new MailError(550, '5.7.1', 'No OpenPGP key was given to encrypt to', 'e2e');
  return certs;
}

async function signingKeys(signer: PrivateKeyMaterial | undefined, now: Date): Promise<openpgp.PrivateKey[]> {
  if (!signer || signer.kind !== 'openpgp') throw new MailError(550, '5.7.1', 'Signing was asked for, but no OpenPGP key of the sender was given', 'e2e');
  const keys = await readSecretKeys(signer.key);
  for (const key of keys) {
    if (!(await inspectKey(key, now)).canSign) throw new MailError(550, '5.7.1', `The OpenPGP key of ${signer.address} cannot sign now (expired, revoked or no signing key)`, 'e2e');
  }
  return keys;
}

const SIGNATURE_PART = [
  line('Content-Type', 'application/pgp-signature; name="signature.asc"'),
  line('Content-Description', 'OpenPGP digital signature'),
  line('Content-Disposition', 'attachment; filename="signature.asc"'),
];

async function protect(message: Uint8Array, options: ProtectOptions): Promise<Uint8Array> {
  if (!options.sign && !options.encrypt) throw new MailError(451, '4.3.0', 'Local error in processing: protect was asked neither to sign nor to encrypt', 'e2e');
  const now = options.now;
  const wrapped = wrapForProtection(message, options.encrypt ? 'cipher' : 'clear');
  const boundary = newBoundary();
  if (!options.encrypt) {
    const keys = await signingKeys(options.signer, now);
    const { signature, hash } = await signDetached(wrapped.payload, keys, now);
    const type = line('Content-Type', `multipart/signed; micalg=${quoted(`pgp-${hash}`)}; protocol="application/pgp-signature"; boundary=${quoted(boundary)}`);
    const sigPart = Buffer.concat([...SIGNATURE_PART, Buffer.from('\r\n'), Buffer.from(signature)]);
    return Buffer.concat([...wrapped.outer, line('MIME-Version', '1.0'), multipart([type], 'This is an OpenPGP/MIME signed message (RFC 4880 and 3156)', [wrapped.payload, sigPart], boundary)]);
  }
  const recipients = await encryptionCertificates(options.recipients, now);
  const signers = options.sign ? await signingKeys(options.signer, now) : undefined;
  // CRLF armor: the whole message is then canonical already and unprotect need not rewrite it.
  const ciphertext = await encryptTo(wrapped.payload, { recipients, signers, now, armor: true, lineEnd: '\r\n' });
  const type = line('Content-Type', `multipart/encrypted; protocol="application/pgp-encrypted"; boundary=${quoted(boundary)}`);
  const versionPart = Buffer.concat([line('Content-Type', 'application/pgp-encrypted'), line('Content-Description', 'PGP/MIME version identification'), Buffer.from('\r\nVersion: 1\r\n')]);
  const dataPart = Buffer.concat([line('Content-Type', 'application/octet-stream; name="encrypted.asc"'), line('Content-Description', 'OpenPGP encrypted message'), line('Content-Disposition', 'inline; filename="encrypted.asc"'), Buffer.from('\r\n'), Buffer.from(ciphertext)]);
  return Buffer.concat([...wrapped.outer, line('MIME-Version', '1.0'), multipart([type], 'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)', [versionPart, dataPart], boundary)]);
}

/** The body of a leaf part, transfer encoding undone (ASCII armor normally comes as 7bit). */
function decodedBody(part: Buffer): Buffer {
  const entity = splitEntity(part);
  const cte = (header(entity, 'Content-Transfer-Encoding') ?? '7bit').trim().toLowerCase();
  if (cte === 'base64') return Buffer.from(entity.body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (cte === 'quoted-printable') {
    const text = entity.body.toString('latin1').replace(/=\r\n/g, '');
    return Buffer.from(text.replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  }
  return entity.body;
}

/** One verdict from a message's signatures: a valid one wins, then a bad one from a known key, else unknown. */
export async function verdictOf(verifications: Verification[], now: Date): Promise<SignatureVerdict | null> {
  if (!verifications.length) return null;
  const valid = verifications.find((v) => v.valid && v.certificate);
  if (valid) return { state: 'valid', signer: await signerAddress(valid.certificate!, now), keyId: valid.certificate!.getFingerprint().toUpperCase(), signedAt: valid.signedAt };
  const known = verifications.find((v) => v.certificate);
  if (known) {
    const changed = /digest did not match|signature.*(invalid|mismatch)|Invalid signature|verification failed/i.test(known.error ?? '');
    return { state: 'invalid', signer: await signerAddress(known.certificate!, now), keyId: known.certificate!.getFingerprint().toUpperCase(), reason: changed ? 'the message was changed after it was signed (the signature does not match)' : `the signature is not valid: ${known.error ?? 'unknown reason'}` };
  }
  const first = verifications[0];
  return { state: 'unknown-key', keyId: first.keyId, signedAt: first.signedAt };
}

const MALFORMED = (what: string) => new MailError(550, '5.6.0', `The PGP/MIME message is malformed: ${what}`, 'e2e');

async function verifySigned(entity: { headers: HeaderField[]; body: Buffer }, certs: openpgp.PublicKey[], now: Date): Promise<{ payload: Buffer; verdict: SignatureVerdict | null }> {
  const type = parseContentType(header(entity, 'Content-Type'));
  const boundary = type.params.get('boundary');
  if (!boundary) throw MALFORMED('multipart/signed without a boundary');
  const parts = multipartParts(entity.body, boundary);
  if (!parts || parts.length !== 2) throw MALFORMED('multipart/signed must have exactly two parts');
  const verifications = await verifyDetached(parts[0], decodedBody(parts[1]), certs, now);
  return { payload: parts[0], verdict: (await verdictOf(verifications, now)) ?? { state: 'invalid', signer: null, keyId: null, reason: 'the signature part holds no signature' } };
}

function isPgpSigned(entity: { headers: HeaderField[] }): boolean {
  const type = parseContentType(header(entity, 'Content-Type'));
  return type.type === 'multipart/signed' && type.params.get('protocol')?.toLowerCase() === 'application/pgp-signature';
}

async function unprotect(message: Uint8Array, options: UnprotectOptions): Promise<UnprotectResult> {
  const now = options.now;
  const bytes = canonicalCrlf(message);
  const outer = splitEntity(bytes);
  const type = parseContentType(header(outer, 'Content-Type'));
  const certs = await certificatesOf(options.verificationKeys);
  if (type.type === 'multipart/encrypted' && type.params.get('protocol')?.toLowerCase() === 'application/pgp-encrypted') {
    const boundary = type.params.get('boundary');
    if (!boundary) throw MALFORMED('multipart/encrypted without a boundary');
    const parts = multipartParts(outer.body, boundary);
    if (!parts || parts.length !== 2) throw MALFORMED('multipart/encrypted must have exactly two parts');
    if (!/^\s*Version:\s*1\s*$/m.test(decodedBody(parts[0]).toString('latin1'))) throw MALFORMED('the application/pgp-encrypted part does not say Version: 1');
    const keys = await secretKeysOf(options.decryptionKeys);
    if (!keys.length) throw new MailError(550, '5.7.1', 'The message is encrypted, but no OpenPGP key was given to decrypt it', 'e2e');
    const decrypted = await decryptWith(decodedBody(parts[1]), { keys, verify: certs, now });
    let payload: Buffer = Buffer.from(decrypted.data);
    let signature = await verdictOf(decrypted.signatures, now);
    // RFC 3156 §6.1: a multipart/signed inside the encryption.
    const inner = splitEntity(canonicalCrlf(payload));
    if (isPgpSigned(inner)) {
      const verified = await verifySigned(inner, certs, now);
      payload = verified.payload;
      signature = verified.verdict;
    }
    return { message: unwrapProtected(outer.headers, payload), decrypted: true, signature, malleable: false };
  }
  if (isPgpSigned(outer)) {
    const { payload, verdict } = await verifySigned(outer, certs, now);
    return { message: unwrapProtected(outer.headers, payload), decrypted: false, signature: verdict, malleable: false };
  }
  return { message: bytes, decrypted: false, signature: null, malleable: false };
}

export const openpgpProtector: Protector = { kind: 'openpgp', protect, unprotect };
