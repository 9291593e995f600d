import { Readable } from 'node:stream';
import { dkimSign } from 'mailauth';
import { getHeader, parseAddress, parseHeaders, splitHeaderBlock } from '../mail/index.ts';
import type { Logger } from '../kernel/index.ts';
import type { DkimKey } from './keys.ts';

/** The header fields we sign (RFC 6376 §5.4.1), each listed once more than present for the ones a forwarder must not add (oversigning). */
const SIGNED_HEADERS = ['from', 'from', 'to', 'cc', 'subject', 'subject', 'date', 'message-id', 'reply-to', 'mime-version', 'content-type', 'content-transfer-encoding', 'in-reply-to', 'references', 'auto-submitted'];

/** The domain of the message's (single) From: address, lower case; undefined when there is none. */
export function authorDomainOf(message: Buffer): string | undefined {
  const split = splitHeaderBlock(message);
  const head = message.subarray(0, split?.headerEnd ?? message.length).toString('latin1');
  const from = getHeader(parseHeaders(head), 'From');
  const match = from ? /<([^<>]+)>\s*$/.exec(from.trim())?.[1] ?? from.trim() : undefined;
  return match ? parseAddress(match)?.domain.toLowerCase() : undefined;
}

/** DKIM-Signature fields for the message (one per key, Ed25519 first), CRLF-terminated; '' when none could be made. */
export async function dkimSignatures(message: Buffer, keys: DkimKey[], now: Date, logger: Logger): Promise<string> {
  if (keys.length === 0) return '';
  const result = await dkimSign(message, {
    signingDomain: keys[0].domain,
    selector: keys[0].selector,
    privateKey: keys[0].privateKeyPem,
    canonicalization: 'relaxed/relaxed',
    headerList: SIGNED_HEADERS,
    signTime: now,
    signatureData: [...keys].sort((a, b) => (a.algorithm === b.algorithm ? 0 : a.algorithm === 'ed25519' ? -1 : 1)).map((k) => ({
      signingDomain: k.domain,
      selector: k.selector,
      privateKey: k.privateKeyPem,
      algorithm: k.algorithm === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
      canonicalization: 'relaxed/relaxed',
    })),
  });
  if (result.errors?.length) logger.warn({ domain: keys[0].domain, errors: result.errors.map((e) => (e as { message?: string }).message ?? String(e)) }, 'DKIM signing failed for some keys');
  return result.signatures;
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface OutboundSigner {
  /** Keys for the author domain (empty: that domain does not sign). */
  keysFor(domain: string): Promise<DkimKey[]>;
  logger: Logger;
  now(): number;
}

/**
 * The message as it goes on the wire: signed by the author domain's keys when it has any. The
 * body is read whole first (the signature covers the body hash and precedes it), so what is
 * signed is exactly what is sent; without keys it streams through untouched.
 */
export async function signedBody(body: Readable, signer: OutboundSigner, prefix = ''): Promise<Readable> {
  const message = await collect(body);
  const domain = authorDomainOf(message);
  const keys = domain ? await signer.keysFor(domain) : [];
  const signatures = keys.length ? await dkimSignatures(message, keys, new Date(signer.now()), signer.logger) : '';
  return Readable.from([Buffer.from(prefix + signatures, 'latin1'), message]);
}
