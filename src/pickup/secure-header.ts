import type { Readable } from 'node:stream';
import { getHeader, parseHeaders, splitHeaderBlock } from '../mail/index.ts';
import type { Verification } from './sealed-store.ts';

export interface SenderChoice {
  verification: Verification;
  passphraseOrAnswer?: string;
  question?: string;
}

export class SecureHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecureHeaderError';
  }
}

/**
 * The sender's choice of verification, from the `Sealgate-Secure` header of a submitted
 * message: empty or `yes` (the site default), `link`, `code`, `passphrase=<text>`, or
 * `question=<text>; answer=<text>`. The header travels only inside the encrypted body and is
 * never stored with the pickup.
 */
export function parseSecureHeader(value: string | undefined, fallback: 'link' | 'code'): SenderChoice {
  const text = (value ?? '').replace(/\r?\n[ \t]+/g, ' ').trim();
  if (text === '' || /^yes$/i.test(text)) return { verification: fallback };
  if (/^(link|code)$/i.test(text)) return { verification: text.toLowerCase() as 'link' | 'code' };
  const passphrase = /^passphrase\s*=\s*(.+)$/is.exec(text);
  if (passphrase) return { verification: 'passphrase', passphraseOrAnswer: passphrase[1].trim() };
  const question = /^question\s*=\s*(.+?)\s*;\s*answer\s*=\s*(.+)$/is.exec(text);
  if (question) return { verification: 'question', question: question[1].trim(), passphraseOrAnswer: question[2].trim() };
  throw new SecureHeaderError(`Sealgate-Secure: cannot read ${JSON.stringify(text.slice(0, 40))}; use yes, link, code, passphrase=…, or question=…; answer=…`);
}

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
