import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stripHiddenCharacters } from '../mail/index.ts';

/** Reads at most `limit` bytes for a page (text or HTML bodies); the rest is not decrypted. */
export function readLimited(stream: Readable, limit: number): Promise<{ content: Buffer; truncated: boolean }> {
  // Events, not `for await`: the async iterator's promises per chunk were a measurable part of
  // the reading page's allocations (bench/README.md, portal), for bodies of one chunk or two.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length <= limit) return;
      stream.off('data', onData).off('end', onEnd).off('error', reject);
      stream.on('error', () => undefined).destroy();
      resolve({ content: Buffer.concat(chunks).subarray(0, limit), truncated: true });
    };
    const onEnd = () => resolve({ content: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), truncated: false });
    stream.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

/** A file name from an upload: no path, no control or bidi characters, not empty, not too long. */
export function uploadName(name: string): string {
  const base = stripHiddenCharacters(path.win32.basename(path.posix.basename(name)).replace(/[\u0000-\u001f\u007f]/g, '')).trim();
  return (base || 'attachment').slice(0, 200);
}

/** `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266, RFC 8187). */
export function attachmentDisposition(filename: string): string {
  const clean = uploadName(filename);
  const ascii = clean.replace(/[^\x20-\x7e]/g, '_').replace(/["\\/;%]/g, '_');
  const encoded = encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export class UploadTooLarge extends Error {
  constructor() {
    super('the upload is over its budget');
    this.name = 'UploadTooLarge';
  }
}

/**
 * A byte budget shared by every file of one upload (a reply's text and files together). Past
 * the budget a file's remaining bytes are still read, so the multipart stream moves on and the
 * browser sees the answer, but dropped; the file's stream then ends in `UploadTooLarge`, and
 * whatever stores it throws the partial copy away.
 */
export class UploadBudget {
  readonly limit: number;
  used: number;
  exceeded = false;
  constructor(limit: number, used = 0) {
    this.limit = limit;
    this.used = used;
    this.exceeded = used > limit;
  }

  /** `source` counted against the budget; `truncated` is busboy's flag for a file cut at its own size limit. */
  meter(source: Readable & { truncated?: boolean }): Readable {
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        this.used += chunk.length;
        if (this.used > this.limit) this.exceeded = true;
        done(null, this.exceeded ? undefined : chunk);
      },
      flush: (done) => {
        if (source.truncated) this.exceeded = true;
        done(this.exceeded ? new UploadTooLarge() : null);
      },
    });
    pipeline(source, counter).catch(() => undefined);
    return counter;
  }
}
