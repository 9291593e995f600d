/**
 * S/MIME inbound: peel the layers (enveloped or auth-enveloped, then multipart/signed or opaque
 * signed-data), verify the signature and the signer's certificate at the signing time, and
 * give back the innermost payload as the message, its protected headers (RFC 9788) restored.
 * The result is only ever the decrypted entity plus the outer trace fields: nothing of the
 * outer body is kept next to it (EFAIL direct exfiltration).
 */
import { MailError } from '../../kernel/index.ts';
import type { SignatureVerdict, UnprotectOptions, UnprotectResult } from '../types.ts';
import { certificateAddresses, certificateSubject, checkCertificate } from './certificates.ts';
import { certificateDer, derBlocks, fingerprint, parseCertificates, toArrayBuffer } from './der.ts';
import { pkijs } from './engine.ts';
import { AuthenticationFailedError, NoMatchingKeyError, OID_AUTH_ENVELOPED_DATA, OID_ENVELOPED_DATA, openEnvelope, UnsupportedEncryptionError } from './enveloped.ts';
import type { DecryptionKey } from './enveloped.ts';
import { withoutLegacyDisplay } from './legacy-display.ts';
import { bareAddress, decodeBase64Body, field, isContentField, joinEntity, multipartParts, parseContentType, splitEntity } from './mime.ts';
import type { Entity } from './mime.ts';
import type { SmimeProtectorOptions } from './options.ts';
import { OID_SIGNED_DATA, verifySignedData } from './signed-data.ts';
import type { SignatureCheck } from './signed-data.ts';

const MAX_LAYERS = 4;

function isPkcs7Mime(type: string): boolean {
  return type === 'application/pkcs7-mime' || type === 'application/x-pkcs7-mime';
}

function bodyBytes(entity: Entity): Uint8Array {
  const encoding = field(entity.fields, 'content-transfer-encoding')?.value.toLowerCase();
  return encoding === 'base64' ? decodeBase64Body(entity.body) : new Uint8Array(entity.body);
}

function contentTypeOf(der: Uint8Array): string {
  return pkijs.ContentInfo.fromBER(toArrayBuffer(der)).contentType;
}

interface Verification {
  check: SignatureCheck;
  /** The entity whose From the signer's certificate must name. */
  signedEntity: Entity;
}

async function verdictFor(verification: Verification, outer: Entity, options: UnprotectOptions, settings: SmimeProtectorOptions): Promise<SignatureVerdict> {
  const { check } = verification;
  const signer = check.signer;
  if (!signer) return { state: 'unknown-key', keyId: null, signedAt: check.signedAt };
  const keyId = fingerprint(signer);
  const signerName = certificateAddresses(signer)[0] ?? certificateSubject(signer);
  if (!check.valid) return { state: 'invalid', signer: signerName, keyId, reason: check.reason ?? 'the signature does not verify' };
  const pinned = parseCertificates(options.verificationKeys.filter((k) => k.kind === 'smime').map((k) => k.data)).some((c) => fingerprint(c) === keyId);
  const anchors = options.trustAnchors?.length ? parseCertificates(options.trustAnchors) : null;
  if (!pinned && !anchors) return { state: 'unknown-key', keyId, signedAt: check.signedAt };
  const hasProtectedHeaders = parseContentType(field(verification.signedEntity.fields, 'content-type')?.value).params.hp !== undefined;
  const from = bareAddress(field(hasProtectedHeaders ? verification.signedEntity.fields : outer.fields, 'from')?.value);
  const result = await checkCertificate({
    certificate: signer,
    use: 'sign',
    address: from ?? '',
    at: check.signedAt ?? options.now,
    trustAnchors: pinned ? undefined : (anchors ?? undefined),
    intermediates: check.carried,
    revoked: settings.revoked,
  });
  if (result.ok) return { state: 'valid', signer: signerName, keyId, signedAt: check.signedAt, certificate: certificateDer(signer) };
  if (result.problem === 'untrusted') return { state: 'unknown-key', keyId, signedAt: check.signedAt };
  return { state: 'invalid', signer: signerName, keyId, reason: result.reason };
}

/**
 * The delivered message: outer trace fields, then the payload's protected fields (or the outer
 * ones), then the payload. With header protection the `HP-Outer` fields and the `hp` marker are
 * dropped: the result is no longer protected (RFC 9788 §2.2 limits both to a Cryptographic Payload).
 */
function restore(outer: Entity, inner: Entity): Buffer {
  const protectedHeaders = parseContentType(field(inner.fields, 'content-type')?.value).params.hp !== undefined;
  const innerMessageFields = inner.fields.filter((f) => !isContentField(f.name) && !(protectedHeaders && f.name.toLowerCase() === 'hp-outer'));
  const innerNames = new Set(innerMessageFields.map((f) => f.name.toLowerCase()));
  const outerFields = outer.fields.filter((f) => !isContentField(f.name) && !(protectedHeaders && (innerNames.has(f.name.toLowerCase()) || f.name.toLowerCase() === 'hp-outer')));
  const innerContent = inner.fields
    .filter((f) => isContentField(f.name) && f.name.toLowerCase() !== 'mime-version')
    .map((f) => (protectedHeaders && f.name.toLowerCase() === 'content-type' ? { ...f, raw: withoutHp(f.raw) } : f));
  return joinEntity(
    [...outerFields.map((f) => f.raw), ...(protectedHeaders ? innerMessageFields.map((f) => f.raw) : []), 'MIME-Version: 1.0', ...innerContent.map((f) => f.raw)],
    inner.body,
  );
}

function withoutHp(contentTypeRaw: string): string {
  return contentTypeRaw.replace(/;\s*hp=(?:"[^"]*"|[^;\s]*)/i, '');
}

function cryptoFailure(sentence: string, cause: unknown, enhanced = '5.7.5'): MailError {
  return new MailError(550, enhanced, sentence, 'e2e', { cause });
}

export async function unprotectSmime(message: Uint8Array, options: UnprotectOptions, settings: SmimeProtectorOptions): Promise<UnprotectResult> {
  const outer = splitEntity(message);
  const keys: DecryptionKey[] = options.decryptionKeys
    .filter((k) => k.kind === 'smime')
    .flatMap((k) => {
      const [certificate] = parseCertificates(k.certificates ?? []);
      return certificate ? [{ certificate, key: derBlocks(k.key)[0] }] : [];
    });
  const extraCertificates = parseCertificates(options.verificationKeys.filter((k) => k.kind === 'smime').map((k) => k.data));
  let entity = outer;
  let decrypted = false;
  let authenticated = false;
  let verification: Verification | null = null;
  for (let layer = 0; layer < MAX_LAYERS; layer += 1) {
    const type = parseContentType(field(entity.fields, 'content-type')?.value);
    if (isPkcs7Mime(type.type)) {
      const der = bodyBytes(entity);
      let kind: string;
      try {
        kind = contentTypeOf(der);
      } catch (error) {
        throw cryptoFailure('The S/MIME message is damaged: its CMS structure cannot be read.', error);
      }
      if (kind === OID_ENVELOPED_DATA || kind === OID_AUTH_ENVELOPED_DATA) {
        if (decrypted) break; // encrypted twice: leave the inner layer to the reader
        try {
          const opened = await openEnvelope(der, keys);
          entity = splitEntity(opened.content);
          decrypted = true;
          authenticated = opened.authenticated;
          continue;
        } catch (error) {
          if (error instanceof NoMatchingKeyError && layer === 0) return { message, decrypted: false, signature: null, malleable: false };
          if (error instanceof AuthenticationFailedError) throw cryptoFailure('The S/MIME message could not be decrypted: it was changed on the way or is damaged.', error);
          if (error instanceof UnsupportedEncryptionError) {
            // RFC 3463 X.7.6: cryptographic algorithm not supported.
            throw cryptoFailure(`The S/MIME message is encrypted with ${error.algorithm}, which we do not decrypt (we read AES-CBC and AES-GCM).`, error, '5.7.6');
          }
          throw cryptoFailure('The S/MIME message could not be decrypted with the key we hold for it.', error);
        }
      }
      if (kind === OID_SIGNED_DATA && !verification) {
        const check = await verifySignedData(der, null, extraCertificates);
        if (!check.content) break;
        entity = splitEntity(check.content);
        verification = { check, signedEntity: entity };
        continue;
      }
      break;
    }
    if (type.type === 'multipart/signed' && type.params.boundary && !verification) {
      const [signedPart, signaturePart] = multipartParts(entity.body, type.params.boundary);
      if (!signedPart || !signaturePart) break;
      const signature = splitEntity(signaturePart);
      const check = await verifySignedData(bodyBytes(signature), signedPart, extraCertificates);
      entity = splitEntity(signedPart);
      verification = { check, signedEntity: entity };
      continue;
    }
    break;
  }
  if (entity === outer) return { message, decrypted: false, signature: null, malleable: false };
  const signature = verification ? await verdictFor(verification, outer, options, settings) : null;
  return {
    // Legacy Display Elements are only recognisable inside an encrypting layer (RFC 9788 §4.5.3.1).
    message: new Uint8Array(restore(outer, decrypted ? withoutLegacyDisplay(entity) : entity)),
    decrypted,
    signature,
    malleable: decrypted && !authenticated && signature?.state !== 'valid',
  };
}
