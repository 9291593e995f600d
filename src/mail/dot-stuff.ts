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

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out = Buffer.allocUnsafe(chunk.length * 2 + 2);
    let o = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      this.empty = false;
      if (this.pendingCr) {
        this.pendingCr = false;
        out[o++] = CR;
        out[o++] = LF;
        this.atLineStart = true;
        this.endedWithCrlf = true;
        if (byte === LF) continue; // CRLF: already written
      }
      if (byte === CR) {
        this.pendingCr = true;
        continue;
      }
      if (byte === LF) {
        out[o++] = CR;
        out[o++] = LF;
        this.atLineStart = true;
        this.endedWithCrlf = true;
        continue;
      }
      if (this.atLineStart && byte === DOT) out[o++] = DOT;
      out[o++] = byte;
      this.atLineStart = false;
      this.endedWithCrlf = false;
    }
    done(null, out.subarray(0, o));
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
