import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const END = Buffer.from([DOT, CR, LF]);
const CRLF_END = Buffer.from([CR, LF, DOT, CR, LF]);

/**
 * Stored body → SMTP DATA wire form: dot-stuffing, the final `.\r\n`, and every line end
 * normalised to CRLF. We never emit a bare CR or LF, so no next hop can be made to see a
 * different end of data than we meant (SMTP smuggling, outbound side).
 */
export class DotStuffer extends Transform {
  private atLineStart = true;
  private pendingCr = false;
  private endedWithCrlf = true;
  private empty = true;

  /**
   * A chunk that needs no change (no line starting with a dot, every line end CRLF: most
   * mail) goes out as is, or as a view of itself when it ends in a CR held for the next
   * chunk. A copy is made only from the first byte that changes: a 50 MB body was copied into
   * twice its size chunk by chunk (issue 14).
   */
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    // `out` stays null while the output is the input byte for byte (o === i so far).
    let out: Buffer | null = null;
    let o = 0;
    const copyFrom = (i: number): Buffer => {
      const copy = Buffer.allocUnsafe(o + (chunk.length - i) * 2 + 2);
      chunk.copy(copy, 0, 0, o);
      return copy;
    };
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      this.empty = false;
      if (this.pendingCr) {
        this.pendingCr = false;
        this.atLineStart = true;
        this.endedWithCrlf = true;
        if (byte === LF) {
          // CRLF: the CR was the byte before this one in this chunk, or held from the last.
          if (!out && o === i - 1) o = i + 1;
          else {
            out ??= copyFrom(i);
            out[o++] = CR;
            out[o++] = LF;
          }
          continue;
        }
        out ??= copyFrom(i);
        out[o++] = CR;
        out[o++] = LF;
      }
      if (byte === CR) {
        this.pendingCr = true;
        continue;
      }
      if (byte === LF) {
        out ??= copyFrom(i);
        out[o++] = CR;
        out[o++] = LF;
        this.atLineStart = true;
        this.endedWithCrlf = true;
        continue;
      }
      if (this.atLineStart && byte === DOT) {
        out ??= copyFrom(i);
        out[o++] = DOT;
      }
      if (out) out[o] = byte;
      o++;
      this.atLineStart = false;
      this.endedWithCrlf = false;
    }
    done(null, out ? out.subarray(0, o) : o === chunk.length ? chunk : chunk.subarray(0, o));
  }

  override _flush(done: TransformCallback): void {
    const open = this.pendingCr || (!this.endedWithCrlf && !this.empty);
    done(null, open ? CRLF_END : END);
  }
}

export function dotStuff(body: Buffer): Buffer {
  const stuffer = new DotStuffer();
  const parts: Buffer[] = [];
  stuffer.on('data', (part: Buffer) => parts.push(part));
  stuffer.end(body);
  return Buffer.concat(parts);
}
