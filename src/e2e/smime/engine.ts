/**
 * PKI.js needs a WebCrypto engine; Node's own is the one we trust, so it is set once here and
 * every S/MIME file imports `pkijs` through this module.
 *
 * WebCrypto has no RSAES-PKCS1-v1_5, which RFC 8551 §2.3 still requires for key transport
 * (OpenSSL and GnuPG use it by default). This engine answers that one algorithm with
 * node:crypto (whose OpenSSL uses implicit rejection against Bleichenbacher/Marvin oracles)
 * and hands everything else to PKI.js's own engine.
 */
import { constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import * as pkijs from 'pkijs';

const PKCS1 = 'RSAES-PKCS1-v1_5';
const keyObjects = new WeakMap<object, KeyObject>();

function algorithmName(algorithm: unknown): string | undefined {
  if (typeof algorithm === 'string') return algorithm;
  return (algorithm as { name?: string } | null)?.name;
}

function bytes(data: BufferSource): Buffer {
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export class NodeCmsEngine extends pkijs.CryptoEngine {
  override async importKey(
    format: KeyFormat,
    keyData: BufferSource | JsonWebKey,
    algorithm: AlgorithmIdentifier | RsaHashedImportParams | EcKeyImportParams,
    extractable: boolean,
    keyUsages: KeyUsage[],
  ): Promise<CryptoKey> {
    if (algorithmName(algorithm) !== PKCS1 || (format !== 'pkcs8' && format !== 'spki')) {
      return super.importKey(format as 'raw', keyData as BufferSource, algorithm, extractable, keyUsages);
    }
    const key = bytes(keyData as BufferSource);
    const keyObject = format === 'pkcs8' ? createPrivateKey({ key, format: 'der', type: 'pkcs8' }) : createPublicKey({ key, format: 'der', type: 'spki' });
    const handle = { algorithm: { name: PKCS1 }, type: keyObject.type, extractable: false, usages: keyUsages };
    keyObjects.set(handle, keyObject);
    return handle as unknown as CryptoKey;
  }

  override async encrypt(...args: Parameters<pkijs.CryptoEngine['encrypt']>): Promise<ArrayBuffer> {
    const [algorithm, key, data] = args;
    const keyObject = keyObjects.get(key);
    if (algorithmName(algorithm) !== PKCS1 || !keyObject) return super.encrypt(...args);
    const out = publicEncrypt({ key: keyObject, padding: constants.RSA_PKCS1_PADDING }, bytes(data));
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
  }

  override async decrypt(...args: Parameters<pkijs.CryptoEngine['decrypt']>): Promise<ArrayBuffer> {
    const [algorithm, key, data] = args;
    const keyObject = keyObjects.get(key);
    if (algorithmName(algorithm) !== PKCS1 || !keyObject) return super.decrypt(...args);
    const out = privateDecrypt({ key: keyObject, padding: constants.RSA_PKCS1_PADDING }, bytes(data));
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
  }
}

/**
 * PKI.js v4 turns a KeyAgreeRecipientInfo without ukm into an empty entityUInfo in the
 * ECC-CMS-SharedInfo it feeds the KDF, so it cannot open ECDH messages that carry no ukm
 * (OpenSSL's; RFC 5753 §7.2: entityUInfo is present only with a ukm). Leave an empty one out.
 */
const sharedInfoToSchema = pkijs.ECCCMSSharedInfo.prototype.toSchema;
pkijs.ECCCMSSharedInfo.prototype.toSchema = function toSchemaWithoutEmptyUkm(this: pkijs.ECCCMSSharedInfo) {
  const ukm = this.entityUInfo;
  if (!ukm || ukm.valueBlock.valueHexView.byteLength > 0) return sharedInfoToSchema.call(this);
  this.entityUInfo = undefined;
  try {
    return sharedInfoToSchema.call(this);
  } finally {
    this.entityUInfo = ukm;
  }
};

pkijs.setEngine('node', new NodeCmsEngine({ name: 'node', crypto: webcrypto as unknown as Crypto }));

export { pkijs };
export const subtle = webcrypto.subtle;
