/** PEM or DER in, DER out; the key store hands us either. */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import { pkijs } from './engine.ts';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every DER block in `data` (all PEM blocks, or `data` itself when it is not PEM). */
export function derBlocks(data: Uint8Array): Uint8Array[] {
  const text = Buffer.from(data).toString('latin1');
  if (!text.includes('-----BEGIN ')) return [new Uint8Array(data)];
  const blocks: Uint8Array[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    blocks.push(new Uint8Array(Buffer.from(match[2].replace(/\s+/g, ''), 'base64')));
  }
  return blocks;
}

export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export function parseCertificate(der: Uint8Array): pkijs.Certificate {
  return pkijs.Certificate.fromBER(toArrayBuffer(der));
}

/** All certificates in PEM or DER inputs. */
export function parseCertificates(inputs: readonly Uint8Array[]): pkijs.Certificate[] {
  return inputs.flatMap((input) => derBlocks(input).map(parseCertificate));
}

export function certificateDer(certificate: pkijs.Certificate): Uint8Array<ArrayBuffer> {
  return new Uint8Array(certificate.toSchema().toBER(false));
}

/** SHA-256 over the DER, lower-case hex: the key id a verdict and the key store name. */
export function fingerprint(certificate: pkijs.Certificate): string {
  return createHash('sha256').update(certificateDer(certificate)).digest('hex');
}

export function sameCertificate(a: pkijs.Certificate, b: pkijs.Certificate): boolean {
  return fingerprint(a) === fingerprint(b);
}

export function parseDer(bytes: Uint8Array): asn1js.AsnType {
  const parsed = asn1js.fromBER(toArrayBuffer(bytes));
  if (parsed.offset === -1) throw new Error('not DER');
  return parsed.result;
}
