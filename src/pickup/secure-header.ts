import type { Readable } from 'node:stream';
import { getHeader, parseHeaders, splitHeaderBlock, type SecureChoice } from '../mail/index.ts';
import type { Verification } from './sealed-store.ts';

/** The parser lives with the other control-header code in mail/ (ingress reads it once). */
export { parseSecureHeader, SecureHeaderError } from '../mail/index.ts';
export type SenderChoice = Omit<SecureChoice, 'verification'> & { verification: Verification };

/** Reads just the header block of a message stream (at most 256 kB) and closes it. */
export async function readHeaderField(body: Readable, name: string): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      const all = Buffer.concat(chunks);
      const split = splitHeaderBlock(all);
      if (split) return getHeader(parseHeaders(all.subarray(0, split.headerEnd).toString('latin1')), name);
      if (length > 256 * 1024) break;
    }
  } finally {
    body.destroy();
  }
  return getHeader(parseHeaders(Buffer.concat(chunks).toString('latin1')), name);
}
