import { Readable } from 'node:stream';
import { DecryptStream, EncryptStream } from '../vault/index.ts';
import { subkey } from './keys.ts';
import type { PartInput } from './message-types.ts';

/*
 * A part's content as a sealed stream: the vault's chunked AES-256-GCM under a key derived
 * from the message's DEK and the part's place, so parts cannot be swapped and large ones stream.
 */

/** The part's content sealed as it is read (vault chunk format under `key`). */
export function sealStream(key: Buffer, plain: Readable): Readable {
  const sealed = new EncryptStream(key);
  plain.on('error', (error) => sealed.destroy(error));
  return plain.pipe(sealed);
}

/** The plaintext of a sealed stream, checked chunk by chunk (torn or altered content fails). */
export function openStream(key: Buffer, sealed: Readable): Readable {
  const plain = new DecryptStream(key);
  sealed.on('error', (error) => plain.destroy(error));
  return sealed.pipe(plain);
}

/**
 * A part kept in its row, opened: the bytes go straight into the decrypting stream. Through
 * `Readable.from` and a pipe (an async iterator, its promises and a second stream) every page
 * view paid for that machinery twice, once per body part.
 */
export function openSealedBytes(key: Buffer, sealed: Buffer): Readable {
  const plain = new DecryptStream(key);
  plain.end(sealed);
  return plain;
}

export const partKey = (dek: Buffer, id: string, idx: number) => subkey(dek, `sealgate pickup part v1 ${id}/${idx}`);

/** Largest HTML body accepted; it is sanitised whole, in memory. */
export const HTML_LIMIT = 5 * 1024 * 1024;

/** A text part's content whole, refused past `limit` bytes. */
export async function collectText(content: PartInput['content'], limit: number): Promise<Buffer> {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (Buffer.isBuffer(content)) return content;
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of content as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) throw new Error(`the HTML body is larger than ${limit / 1024 / 1024} MB; send it as an attachment`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export function toReadable(content: PartInput['content']): Readable {
  if (typeof content === 'string') return Readable.from([Buffer.from(content, 'utf8')]);
  if (Buffer.isBuffer(content)) return Readable.from([content]);
  return content;
}
