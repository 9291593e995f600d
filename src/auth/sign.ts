import { Readable } from 'node:stream';
import { getHeader, parseAddress, parseHeaders, splitHeaderBlock } from '../mail/index.ts';
import type { Logger } from '../kernel/index.ts';
import type { DkimKey } from './keys.ts';
import { loadDkimSign, signingKey } from './mailauth-loader.ts';

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
  // Loaded at the first signature, and only the signer: a node without DKIM keys never holds it.
  const { dkimSign } = await loadDkimSign();
  const result = await dkimSign(message, {
    signingDomain: keys[0].domain,
    selector: keys[0].selector,
    privateKey: signingKey(keys[0].privateKeyPem) as never,
    canonicalization: 'relaxed/relaxed',
    headerList: SIGNED_HEADERS,
    signTime: now,
    signatureData: [...keys].sort((a, b) => (a.algorithm === b.algorithm ? 0 : a.algorithm === 'ed25519' ? -1 : 1)).map((k) => ({
      signingDomain: k.domain,
      selector: k.selector,
      privateKey: signingKey(k.privateKeyPem) as never,
      algorithm: k.algorithm === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
      canonicalization: 'relaxed/relaxed',
    })),
  });
  if (result.errors?.length) logger.warn({ domain: keys[0].domain, errors: result.errors.map((e) => (e as { message?: string }).message ?? String(e)) }, 'DKIM signing failed for some keys');
  return result.signatures;
}

export interface OutboundSigner {
  /** Keys for the author domain (empty: that domain does not sign). */
  keysFor(domain: string): Promise<DkimKey[]>;
  logger: Logger;
  now(): number;
}

/** Reads the stream up to the end of its header block (or its end); the rest stays unread. */
async function readHead(iterator: AsyncIterator<Buffer>): Promise<{ chunks: Buffer[]; done: boolean }> {
  const chunks: Buffer[] = [];
  let length = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return { chunks, done: true };
    chunks.push(next.value);
    length += next.value.length;
    // Past 1 MiB of header (ingress refuses more) the From: is as known as it will be.
    if (splitHeaderBlock(Buffer.concat(chunks, length)) || length > 1024 * 1024) return { chunks, done: false };
  }
}

/**
 * The message as it goes on the wire, signed by its author domain's keys when it has any. Only
 * the header block is read to learn the domain; without keys the rest streams through as
 * stored. With keys the body is read whole first (the signature precedes the body it hashes),
 * so what is signed is exactly what is sent.
 */
export async function signedBody(body: Readable, signer: OutboundSigner): Promise<Readable> {
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head = await readHead(iterator);
  const domain = authorDomainOf(Buffer.concat(head.chunks));
  const keys = domain ? await signer.keysFor(domain) : [];
  const rest = async function* (): AsyncGenerator<Buffer> {
    yield* head.chunks;
    if (head.done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  };
  if (keys.length === 0) return Readable.from(rest());
  const chunks: Buffer[] = [];
  for await (const chunk of rest()) chunks.push(chunk);
  const message = Buffer.concat(chunks);
  const signatures = await dkimSignatures(message, keys, new Date(signer.now()), signer.logger);
  return Readable.from([Buffer.from(signatures, 'latin1'), message]);
}
