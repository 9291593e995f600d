import { Transform, type TransformCallback } from 'node:stream';
import { MailError } from '../kernel/index.ts';

/*
 * Counts MIME nesting as a message streams past (bytes pass through unchanged): each
 * multipart/* and message/rfc822 entity opens a level, a multipart's closing delimiter (or an
 * enclosing one) closes it. Past `maxDepth` the stream fails with 554 5.6.0, the way Postfix
 * refuses mail beyond mime_nesting_limit. Written by hand because only the structure is
 * needed, in one pass, without holding any part: a full MIME parser would buffer the message.
 */

const MULTIPART = /^content-type[ \t]*:[ \t]*multipart\//i;
const RFC822 = /^content-type[ \t]*:[ \t]*message\/(rfc822|global)\b/i;
const BOUNDARY = /;\s*boundary\s*=\s*(?:"([^"]{1,200})"|([^;\s"]{1,200}))/i;
const MAX_HEADER_KEPT = 16 * 1024;
const MAX_LINE_KEPT = 1000;

interface Level {
  /** The multipart's boundary; null for an encapsulated message (closed by its parent's delimiter). */
  boundary: string | null;
}

export function mimeDepthError(maxDepth: number): MailError {
  return new MailError(554, '5.6.0', `Message refused: MIME parts are nested more than ${maxDepth} levels deep`, 'mail');
}

export class MimeDepthLimit extends Transform {
  private readonly maxDepth: number;
  private readonly levels: Level[] = [];
  private inHeaders = true;
  /** The current entity's Content-Type field, unfolded as it arrives. */
  private contentType = '';
  private inContentType = false;
  private headerKept = 0;
  private partial = '';

  constructor(maxDepth: number) {
    super();
    this.maxDepth = maxDepth;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    for (;;) {
      const lf = chunk.indexOf(0x0a, start);
      if (lf < 0) {
        if (this.partial.length < MAX_LINE_KEPT) this.partial += chunk.subarray(start, Math.min(chunk.length, start + MAX_LINE_KEPT)).toString('latin1');
        break;
      }
      let line = this.partial + chunk.subarray(start, Math.min(lf, start + MAX_LINE_KEPT)).toString('latin1');
      this.partial = '';
      if (line.endsWith('\r')) line = line.slice(0, -1);
      start = lf + 1;
      const error = this.line(line);
      if (error) {
        done(error);
        return;
      }
    }
    done(null, chunk);
  }

  private line(line: string): MailError | null {
    if (this.inHeaders) {
      if (line === '') return this.endOfHeaders();
      if ((line[0] === ' ' || line[0] === '\t') && this.inContentType) {
        if (this.headerKept < MAX_HEADER_KEPT) this.contentType += line;
      } else {
        this.inContentType = /^content-type[ \t]*:/i.test(line);
        if (this.inContentType) this.contentType = line;
      }
      this.headerKept += line.length;
      return null;
    }
    if (!line.startsWith('--')) return null;
    // A delimiter of any open multipart ends every level inside it (RFC 2046 §5.1.1).
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const boundary = this.levels[i].boundary;
      if (boundary === null) continue;
      const rest = line.slice(2);
      if (!rest.startsWith(boundary)) continue;
      const after = rest.slice(boundary.length);
      if (/^--[ \t]*$/.test(after)) {
        this.levels.length = i;
        this.inHeaders = false;
        return null;
      }
      if (/^[ \t]*$/.test(after)) {
        this.levels.length = i + 1;
        this.startEntity();
        return null;
      }
    }
    return null;
  }

  private startEntity(): void {
    this.inHeaders = true;
    this.contentType = '';
    this.inContentType = false;
    this.headerKept = 0;
  }

  private endOfHeaders(): MailError | null {
    const type = this.contentType;
    this.inHeaders = false;
    if (MULTIPART.test(type)) {
      const match = BOUNDARY.exec(type);
      const boundary = match?.[1] ?? match?.[2];
      if (boundary) this.levels.push({ boundary });
    } else if (RFC822.test(type)) {
      this.levels.push({ boundary: null });
      this.startEntity();
    }
    return this.levels.length > this.maxDepth ? mimeDepthError(this.maxDepth) : null;
  }
}
