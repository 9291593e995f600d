/**
 * CMS EnvelopedData (RFC 5652 §6, AES-256-CBC) and AuthEnvelopedData (RFC 5083 with AES-256-GCM,
 * RFC 5084). PKI.js v4 builds and opens the recipient infos (RSAES-OAEP, RSA PKCS#1 v1.5, ECDH
 * with AES key wrap) and EnvelopedData itself, but has no AuthEnvelopedData: for that one we
 * let PKI.js encrypt the content with AES-GCM (WebCrypto appends the 16-byte tag) and re-wrap
 * its parts into the RFC 5083 SEQUENCE with asn1js; opening reverses it. That re-wrapping is the
 * only hand-built ASN.1 here, and it uses PKI.js's own classes for every inner structure.
 */
import { createCipheriv, randomBytes, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import { NodeCmsEngine, pkijs } from './engine.ts';
import { toArrayBuffer } from './der.ts';
import { OID_DATA } from './signed-data.ts';

export const OID_ENVELOPED_DATA = '1.2.840.113549.1.7.3';
export const OID_AUTH_ENVELOPED_DATA = '1.2.840.113549.1.9.16.1.23';
const OID_AES256_GCM = '2.16.840.1.101.3.4.1.46';
const GCM_TAG_BYTES = 16;

export type ContentEncryption = 'aes-256-gcm' | 'aes-256-cbc';
export type RsaKeyTransport = 'oaep' | 'pkcs1';

export interface EnvelopeInput {
  content: Uint8Array;
  recipients: pkijs.Certificate[];
  encryption: ContentEncryption;
  rsaKeyTransport: RsaKeyTransport;
}

/** The DER of the ContentInfo holding the EnvelopedData or AuthEnvelopedData. */
export async function envelope(input: EnvelopeInput): Promise<Uint8Array> {
  const enveloped = new pkijs.EnvelopedData();
  for (const certificate of input.recipients) {
    enveloped.addRecipientByCertificate(certificate, {
      useOAEP: input.rsaKeyTransport === 'oaep',
      oaepHashAlgorithm: 'SHA-256',
      // dhSinglePass-stdDH-sha256kdf-scheme: what OpenSSL and GnuPG read (PKI.js defaults to SHA-512).
      kdfAlgorithm: 'SHA-256',
    } as Parameters<pkijs.EnvelopedData['addRecipientByCertificate']>[1]);
  }
  const content = toArrayBuffer(input.content);
  if (input.encryption === 'aes-256-cbc') {
    await enveloped.encrypt({ name: 'AES-CBC', length: 256 } as AesKeyGenParams, content);
    const info = new pkijs.ContentInfo({ contentType: OID_ENVELOPED_DATA, content: enveloped.toSchema() });
    return new Uint8Array(info.toSchema().toBER(false));
  }
  // PKI.js would use a 16-byte GCM nonce; RFC 5084 recommends 12 and OpenSSL reads only that, so
  // PKI.js wraps our own content key for the recipients and node:crypto does the GCM.
  const contentKey = randomBytes(32);
  const nonce = randomBytes(12);
  const engine = new FixedKeyEngine(contentKey);
  await enveloped.encrypt({ name: 'AES-GCM', length: 256 } as AesKeyGenParams, new ArrayBuffer(0), engine as unknown as pkijs.ICryptoEngine);
  const cipher = createCipheriv('aes-256-gcm', contentKey, nonce, { authTagLength: GCM_TAG_BYTES });
  const sealed = Buffer.concat([cipher.update(input.content), cipher.final(), cipher.getAuthTag()]);
  const gcmParameters = new asn1js.Sequence({
    value: [new asn1js.OctetString({ valueHex: toArrayBuffer(new Uint8Array(nonce)) }), new asn1js.Integer({ value: GCM_TAG_BYTES })],
  });
  const encryptedContentInfo = new pkijs.EncryptedContentInfo({
    contentType: OID_DATA,
    contentEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID_AES256_GCM, algorithmParams: gcmParameters }),
    encryptedContent: new asn1js.OctetString({ valueHex: toArrayBuffer(sealed.subarray(0, sealed.length - GCM_TAG_BYTES)) }),
  });
  const authEnveloped = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      new asn1js.Set({ value: enveloped.recipientInfos.map((r) => r.toSchema()) }),
      encryptedContentInfo.toSchema(),
      new asn1js.OctetString({ valueHex: toArrayBuffer(sealed.subarray(sealed.length - GCM_TAG_BYTES)) }),
    ],
  });
  const info = new pkijs.ContentInfo({ contentType: OID_AUTH_ENVELOPED_DATA, content: authEnveloped });
  return new Uint8Array(info.toSchema().toBER(false));
}

/** An engine whose one generated key is the content key we chose (PKI.js only wraps it). */
class FixedKeyEngine extends NodeCmsEngine {
  readonly contentKey: Uint8Array;
  constructor(contentKey: Uint8Array) {
    super({ name: 'node', crypto: webcrypto as unknown as Crypto });
    this.contentKey = contentKey;
    const generate = this.generateKey.bind(this);
    // Only the content key is ours; the ephemeral ECDH keys of key agreement stay PKI.js's.
    this.generateKey = (async (algorithm: AlgorithmIdentifier, extractable: boolean, usages: KeyUsage[]) =>
      (algorithm as { name?: string }).name === 'AES-GCM'
        ? this.importKey('raw', toArrayBuffer(this.contentKey), algorithm, true, usages)
        : generate(algorithm as AlgorithmIdentifier & EcKeyGenParams, extractable, usages)) as NodeCmsEngine['generateKey'];
  }
}

export interface DecryptionKey {
  certificate: pkijs.Certificate;
  /** PKCS#8 DER. */
  key: Uint8Array;
}

export interface Opened {
  content: Uint8Array;
  /** AuthEnvelopedData: the content's integrity is proven by the GCM tag. */
  authenticated: boolean;
}

export class NoMatchingKeyError extends Error {}
export class AuthenticationFailedError extends Error {}

/** Content encryption we do not decrypt, found before any key is tried (PKI.js's own error names only the OID, deep in a cause). */
export class UnsupportedEncryptionError extends Error {
  readonly algorithm: string;
  constructor(algorithm: string) {
    super(`the content is encrypted with ${algorithm}, which is not supported`);
    this.algorithm = algorithm;
  }
}

/** What PKI.js decrypts through WebCrypto: AES-CBC and AES-GCM, 128, 192 and 256 bits. */
const READABLE_CONTENT_ENCRYPTION = new Set(['2', '22', '42', '6', '26', '46'].map((arc) => `2.16.840.1.101.3.4.1.${arc}`));
/** Names for the legacy ones still met (RFC 4134's examples use 3DES and RC2). */
const LEGACY_CONTENT_ENCRYPTION: Record<string, string> = {
  '1.2.840.113549.3.7': '3DES (des-ede3-cbc)',
  '1.2.840.113549.3.2': 'RC2 (rc2-cbc)',
  '1.3.14.3.2.7': 'DES (des-cbc)',
};

function unsupportedContentEncryption(enveloped: pkijs.EnvelopedData): string | null {
  const oid = enveloped.encryptedContentInfo.contentEncryptionAlgorithm.algorithmId;
  return READABLE_CONTENT_ENCRYPTION.has(oid) ? null : (LEGACY_CONTENT_ENCRYPTION[oid] ?? `algorithm ${oid}`);
}

function namesRecipient(info: pkijs.RecipientInfo, certificate: pkijs.Certificate): boolean {
  const matches = (rid: unknown): boolean =>
    rid instanceof pkijs.IssuerAndSerialNumber && rid.issuer.isEqual(certificate.issuer) && rid.serialNumber.isEqual(certificate.serialNumber);
  if (info.value instanceof pkijs.KeyTransRecipientInfo) {
    if (info.value.rid instanceof pkijs.IssuerAndSerialNumber) return matches(info.value.rid);
    return true; // subjectKeyIdentifier: let the key try
  }
  if (info.value instanceof pkijs.KeyAgreeRecipientInfo) {
    return info.value.recipientEncryptedKeys.encryptedKeys.some((k) => k.rid.variant !== 1 || matches(k.rid.value));
  }
  return false;
}

/** RFC 5083 AuthEnvelopedData → an EnvelopedData PKI.js can open with AES-GCM (tag appended). */
function asGcmEnvelopedData(sequence: asn1js.Sequence): pkijs.EnvelopedData {
  const parts = sequence.valueBlock.value;
  let index = 1; // after the version
  if (parts[index]?.idBlock.tagClass === 3 && parts[index].idBlock.tagNumber === 0) index += 1; // originatorInfo
  const recipientSet = parts[index++] as asn1js.Set;
  const contentInfo = new pkijs.EncryptedContentInfo({ schema: parts[index++] });
  if (parts[index]?.idBlock.tagClass === 3 && parts[index].idBlock.tagNumber === 1) {
    // Authenticated attributes would be GCM's additional data, which PKI.js cannot pass.
    throw new Error('AuthEnvelopedData with authenticated attributes is not supported');
  }
  const mac = new Uint8Array((parts[index] as asn1js.OctetString).valueBlock.valueHexView);
  const algorithm = contentInfo.contentEncryptionAlgorithm;
  if (algorithm.algorithmId !== OID_AES256_GCM) throw new Error(`unsupported authenticated encryption ${algorithm.algorithmId}`);
  const params = (algorithm.algorithmParams as asn1js.Sequence).valueBlock.value;
  const nonce = new Uint8Array((params[0] as asn1js.OctetString).valueBlock.valueHexView);
  const tagBytes = params[1] ? (params[1] as asn1js.Integer).valueBlock.valueDec : 12;
  if (tagBytes !== GCM_TAG_BYTES || mac.length !== GCM_TAG_BYTES) throw new Error(`unsupported GCM tag length ${tagBytes}`);
  const ciphertext = new Uint8Array(contentInfo.getEncryptedContent());
  const joined = new Uint8Array(ciphertext.length + mac.length);
  joined.set(ciphertext);
  joined.set(mac, ciphertext.length);
  return new pkijs.EnvelopedData({
    version: 2,
    recipientInfos: recipientSet.valueBlock.value.map((schema) => new pkijs.RecipientInfo({ schema })),
    encryptedContentInfo: new pkijs.EncryptedContentInfo({
      contentType: contentInfo.contentType,
      contentEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: OID_AES256_GCM,
        algorithmParams: new asn1js.OctetString({ valueHex: toArrayBuffer(nonce) }),
      }),
      encryptedContent: new asn1js.OctetString({ valueHex: toArrayBuffer(joined) }),
    }),
  });
}

/** Opens an EnvelopedData or AuthEnvelopedData ContentInfo with the first of `keys` it names. */
export async function openEnvelope(der: Uint8Array, keys: readonly DecryptionKey[]): Promise<Opened> {
  const info = pkijs.ContentInfo.fromBER(toArrayBuffer(der));
  let enveloped: pkijs.EnvelopedData;
  let authenticated: boolean;
  if (info.contentType === OID_ENVELOPED_DATA) {
    enveloped = new pkijs.EnvelopedData({ schema: info.content });
    authenticated = false;
  } else if (info.contentType === OID_AUTH_ENVELOPED_DATA) {
    enveloped = asGcmEnvelopedData(info.content as asn1js.Sequence);
    authenticated = true;
  } else {
    throw new Error(`not an enveloped message (${info.contentType})`);
  }
  const unsupported = unsupportedContentEncryption(enveloped);
  let lastError: unknown = null;
  for (const [index, recipient] of enveloped.recipientInfos.entries()) {
    for (const key of keys) {
      if (!namesRecipient(recipient, key.certificate)) continue;
      // Only a message meant for us is refused for its algorithm; others pass as not ours.
      if (unsupported) throw new UnsupportedEncryptionError(unsupported);
      try {
        const content = await enveloped.decrypt(index, { recipientCertificate: key.certificate, recipientPrivateKey: toArrayBuffer(key.key) });
        return { content: new Uint8Array(content), authenticated };
      } catch (error) {
        lastError = error;
      }
    }
  }
  if (lastError && authenticated) throw new AuthenticationFailedError('the encrypted message was changed or the key does not fit', { cause: lastError });
  if (lastError) throw new Error('the message could not be decrypted', { cause: lastError });
  throw new NoMatchingKeyError('the message is not encrypted to any key we hold');
}
