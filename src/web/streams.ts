import path from 'node:path';
import type { Readable } from 'node:stream';
import { stripBidiControls } from '../mail/index.ts';

/** Reads at most `limit` bytes for a page (text or HTML bodies); the rest is not decrypted. */
export async function readLimited(stream: Readable, limit: number): Promise<{ content: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    length += chunk.length;
    if (length > limit) {
      stream.destroy();
      return { content: Buffer.concat(chunks).subarray(0, limit), truncated: true };
    }
  }
  return { content: Buffer.concat(chunks), truncated: false };
}

/** A file name from an upload: no path, no control or bidi characters, not empty, not too long. */
export function uploadName(name: string): string {
  const base = stripBidiControls(path.win32.basename(path.posix.basename(name)).replace(/[\u0000-\u001f\u007f]/g, '')).trim();
  return (base || 'attachment').slice(0, 200);
}

/** `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266, RFC 8187). */
export function attachmentDisposition(filename: string): string {
  const clean = uploadName(filename);
  const ascii = clean.replace(/[^\x20-\x7e]/g, '_').replace(/["\\/;%]/g, '_');
  const encoded = encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
