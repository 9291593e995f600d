/**
 * Reading RFC 9788's test vectors (test/fixtures/standards/rfc9788/, sources in its README)
 * through our S/MIME reader, shared by src/e2e/smime/rfc9788-*.test.ts. The vectors are signed
 * by RFC 9216's Alice; the encrypted ones are for her and Bob's RFC 9216 encryption
 * certificates and open with the RFC's decryption keys (§4.4, §5.4).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseHeaders } from '../../src/mail/index.ts';
import { createSmimeProtector } from '../../src/e2e/smime/index.ts';

export const STANDARDS = path.resolve(import.meta.dirname, '../fixtures/standards');
export const vector = (name: string): Buffer => readFileSync(path.join(STANDARDS, 'rfc9788', name));
export const rfc9216 = (name: string): Buffer => readFileSync(path.join(STANDARDS, 'rfc9216', name));
/** Inside the RFC 9216 certificates' validity (2019–2052). */
export const now = new Date('2026-12-02T00:00:00Z');
export const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
export const headerBlock = (message: string) => parseHeaders(message.slice(0, message.search(/\r?\n\r?\n/)));
/** Every value of the named field in the message's header section, unfolded. */
export const values = (message: string, name: string): string[] =>
  headerBlock(message).filter((f) => f.name.toLowerCase() === name.toLowerCase()).map((f) => f.value);
/** What follows the header section's blank line. */
export const bodyOf = (message: string): string => message.slice(message.indexOf('\r\n\r\n') + 4);

/** The RFC 9216 decryption key of `alice` (§4.4) or `bob` (§5.4), with its certificate. */
export function decryptionKey(reader: 'alice' | 'bob') {
  return { kind: 'smime' as const, address: `${reader}@smime.example`, key: rfc9216(`${reader}-enc-key.pem`), certificates: [rfc9216(`${reader}-enc-cert.pem`)] };
}

/** Our reader over a vector, trusting the RFC 9216 CA (and `moreAnchors`), with the given decryption keys (none: signed-only). */
export function read(message: Uint8Array, decryptionKeys: ReturnType<typeof decryptionKey>[] = [], moreAnchors: Uint8Array[] = []) {
  return createSmimeProtector().unprotect(message, { decryptionKeys, verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem'), ...moreAnchors], now });
}

/** Bob opens it, as the encrypted vectors are read in the RFC. */
export const openAsBob = (message: Uint8Array, moreAnchors: Uint8Array[] = []) => read(message, [decryptionKey('bob')], moreAnchors);
