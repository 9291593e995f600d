/**
 * CMS SignedData (RFC 5652 §5) for S/MIME 4.0: detached, SHA-256, with the content type,
 * message digest, signing time and SMIMECapabilities signed attributes and the signer's
 * certificate (plus intermediates) included. Verification checks the signature only; whose
 * certificate it is and whether it may sign is `checkCertificate`'s business.
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import { pkijs, subtle } from './engine.ts';
import { toArrayBuffer } from './der.ts';

export const OID_DATA = '1.2.840.113549.1.7.1';
export const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';
const OID_SMIME_CAPABILITIES = '1.2.840.113549.1.9.15';
const OID_AES256_GCM = '2.16.840.1.101.3.4.1.46';
const OID_AES256_CBC = '2.16.840.1.101.3.4.1.42';
const OID_RSA = '1.2.840.113549.1.1.1';
const OID_EC = '1.2.840.10045.2.1';

const CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
};

/** The WebCrypto algorithm a certificate's key signs with (RSA PKCS#1 v1.5 or ECDSA, SHA-256). */
function signingAlgorithm(certificate: pkijs.Certificate): RsaHashedImportParams | EcKeyImportParams {
  const algorithm = certificate.subjectPublicKeyInfo.algorithm;
  if (algorithm.algorithmId === OID_RSA) return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  if (algorithm.algorithmId === OID_EC) {
    const curve = CURVES[(algorithm.algorithmParams as asn1js.ObjectIdentifier).valueBlock.toString()];
    if (curve) return { name: 'ECDSA', namedCurve: curve };
  }
  throw new Error(`unsupported signing key algorithm ${algorithm.algorithmId}`);
}

export async function importSigningKey(pkcs8: Uint8Array, certificate: pkijs.Certificate): Promise<CryptoKey> {
  return (await subtle.importKey('pkcs8', toArrayBuffer(pkcs8), signingAlgorithm(certificate), false, ['sign'])) as unknown as CryptoKey;
}

/** What we announce we can decrypt (RFC 8551 §2.5.2), strongest first. */
function capabilities(): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [OID_AES256_GCM, OID_AES256_CBC].map((oid) => new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid })] })),
  });
}

/** RFC 5652 §11.3: UTCTime through 2049, GeneralizedTime after. */
function signingTime(at: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  const whole = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return whole.getUTCFullYear() < 2050 ? new asn1js.UTCTime({ valueDate: whole }) : new asn1js.GeneralizedTime({ valueDate: whole });
}

export interface SignInput {
  content: Uint8Array;
  key: CryptoKey;
  certificate: pkijs.Certificate;
  chain: pkijs.Certificate[];
  at: Date;
}

/** A detached SignedData over `content`, as the DER of its ContentInfo. */
export async function signDetached(input: SignInput): Promise<Uint8Array> {
  const digest = createHash('sha256').update(input.content).digest();
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID_DATA }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: input.certificate.issuer, serialNumber: input.certificate.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({
          type: 0,
          attributes: [
            new pkijs.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: OID_DATA })] }),
            new pkijs.Attribute({ type: OID_SIGNING_TIME, values: [signingTime(input.at)] }),
            new pkijs.Attribute({ type: OID_MESSAGE_DIGEST, values: [new asn1js.OctetString({ valueHex: toArrayBuffer(digest) })] }),
            new pkijs.Attribute({ type: OID_SMIME_CAPABILITIES, values: [capabilities()] }),
          ],
        }),
      }),
    ],
    certificates: [input.certificate, ...input.chain],
  });
  await signed.sign(input.key, 0, 'SHA-256', toArrayBuffer(input.content));
  const info = new pkijs.ContentInfo({ contentType: OID_SIGNED_DATA, content: signed.toSchema(true) });
  return new Uint8Array(info.toSchema().toBER(false));
}

export interface SignatureCheck {
  /** The signature matches the content and the signer's certificate. */
  valid: boolean;
  reason: string | null;
  signer: pkijs.Certificate | null;
  /** Certificates the message carried, for building the signer's chain. */
  carried: pkijs.Certificate[];
  signedAt: Date | null;
  /** The encapsulated content of an opaque (non-detached) signature. */
  content: Uint8Array | null;
}

function findSigningTime(signerInfo: pkijs.SignerInfo): Date | null {
  const attribute = signerInfo.signedAttrs?.attributes.find((a) => a.type === OID_SIGNING_TIME);
  const value = attribute?.values[0];
  if (value instanceof asn1js.UTCTime || value instanceof asn1js.GeneralizedTime) return value.toDate();
  return null;
}

/**
 * Checks a SignedData (ContentInfo DER) over `detached` content, or over its own content when
 * `detached` is null. `extraCertificates` are tried when the message does not carry the signer's.
 */
export async function verifySignedData(
  der: Uint8Array,
  detached: Uint8Array | null,
  extraCertificates: pkijs.Certificate[],
): Promise<SignatureCheck> {
  const info = pkijs.ContentInfo.fromBER(toArrayBuffer(der));
  if (info.contentType !== OID_SIGNED_DATA) throw new Error('not a SignedData');
  const signed = new pkijs.SignedData({ schema: info.content });
  const carried = (signed.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  const eContent = signed.encapContentInfo.eContent;
  const content = detached ?? (eContent ? new Uint8Array(eContent.getValue()) : null);
  const base: Omit<SignatureCheck, 'valid' | 'reason' | 'signer'> = {
    carried,
    signedAt: signed.signerInfos[0] ? findSigningTime(signed.signerInfos[0]) : null,
    content: detached ? null : content,
  };
  if (signed.signerInfos.length === 0) return { ...base, valid: false, reason: 'the signature has no signer', signer: null };
  if (content === null) return { ...base, valid: false, reason: 'the signed content is missing', signer: null };
  signed.certificates = [...carried, ...extraCertificates];
  try {
    const result = await signed.verify({ signer: 0, data: toArrayBuffer(content), extendedMode: true, checkChain: false });
    const signer = result.signerCertificate ?? null;
    if (result.signatureVerified) return { ...base, valid: true, reason: null, signer };
    return { ...base, valid: false, reason: 'the signature does not match the message (it was changed)', signer };
  } catch (error) {
    const failure = error as pkijs.SignedDataVerifyError;
    const signer = failure.signerCertificate ?? null;
    if (!signer) return { ...base, valid: false, reason: 'the signer\'s certificate is unknown', signer: null };
    return { ...base, valid: false, reason: `the signature does not verify (${failure.message})`, signer };
  }
}
