import { expect } from 'vitest';
import { getHeader, parseHeaders, splitHeaderBlock } from '../../src/mail/index.ts';

export interface MimePart {
  headers: ReturnType<typeof parseHeaders>;
  body: string;
}

/** A multipart message split by hand (top headers and each part), checking the closing boundary. */
export function splitMultipart(message: Buffer | string): { headers: ReturnType<typeof parseHeaders>; parts: MimePart[] } {
  const bytes = Buffer.isBuffer(message) ? message : Buffer.from(message);
  const end = splitHeaderBlock(bytes)!.headerEnd;
  const headers = parseHeaders(bytes.subarray(0, end).toString());
  const boundary = /boundary="([^"]+)"/.exec(getHeader(headers, 'Content-Type')!)![1];
  const chunks = bytes.subarray(end).toString().split(`\r\n--${boundary}`);
  expect(chunks.at(-1)).toBe('--\r\n');
  const parts = chunks.slice(1, -1).map((chunk) => {
    const text = chunk.replace(/^\r\n/, '');
    const split = text.indexOf('\r\n\r\n');
    return { headers: parseHeaders(text.slice(0, split + 2)), body: text.slice(split + 4) };
  });
  return { headers, parts };
}
