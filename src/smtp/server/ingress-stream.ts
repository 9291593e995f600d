import { Transform, type TransformCallback } from 'node:stream';
import { isLinkLevel, LINK_LEVELS, MailError, type LinkRequirement } from '../../kernel/index.ts';
import { countHeaders, getHeader, makeMessageId, formatRfc5322Date, parseHeaders, splitHeaderBlock } from '../../mail/index.ts';

export interface IngressStreamOptions {
  maxMessageBytes: number;
  /** Including the CRLF, as RFC 5321 §4.5.3.1.6 counts it. */
  maxTextLineBytes: number;
  maxReceivedHeaders: number;
  maxHeaderBytes?: number;
  /** Prepended as is (our Received: line, CRLF-terminated). */
  traceHeader: string;
  /** Submission: add Message-ID and Date when the client left them out. */
  completeHeaders: boolean;
  hostname: string;
  now: Date;
  /** Submission: take the sender's `Sealgate-Require` header out and report its level. */
  onRequirement?: (level: LinkRequirement) => void;
  /** RFC 8689 §5: the message carries `TLS-Required: No`. */
  onTlsOptional?: () => void;
  /** Submission only: the subject tag or `Sealgate-Secure` header asks for Secure Message Pickup. */
  pickupTag?: string;
  onPickup?: () => void;
  /** Last edit of the header block before it is stored (smtp/server/submitted-controls.ts, inbound-headers.ts). */
  rewriteHeaders?: (block: Buffer) => Buffer | MailError;
}

const REQUIRE_HEADER = /^sealgate-require[ \t]*:/i;

/** Drops a header field (with its folded continuation lines) from a raw header block. */
function withoutField(block: string, field: RegExp): string {
  const lines = block.split('\r\n');
  const kept: string[] = [];
  let dropping = false;
  for (const line of lines) {
    if (field.test(line)) dropping = true;
    else if (dropping && !/^[ \t]/.test(line)) dropping = false;
    if (!dropping) kept.push(line);
  }
  return kept.join('\r\n');
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * Validates the DATA stream as it arrives and adds our trace headers, holding back only the
 * header block. Bare CR or bare LF is refused outright: every SMTP smuggling variant
 * (`<LF>.<LF>`, `<CR>.<CR>`, `<LF>.<CRLF>` …) needs one, and a message with one would be
 * re-terminated differently by the next hop.
 */
export class IngressStream extends Transform {
  private readonly options: IngressStreamOptions;
  private bytes = 0;
  private lineLength = 0;
  private previous = -1;
  private headerChunks: Buffer[] | null = [];
  private headerLength = 0;

  constructor(options: IngressStreamOptions) {
    super();
    this.options = options;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const error = this.validate(chunk);
    if (error) {
      done(error);
      return;
    }
    if (this.headerChunks) {
      this.headerChunks.push(chunk);
      this.headerLength += chunk.length;
      const all = Buffer.concat(this.headerChunks);
      const split = splitHeaderBlock(all);
      if (split) {
        this.headerChunks = null;
        const headerError = this.emitHeaders(all.subarray(0, split.headerEnd));
        if (headerError) {
          done(headerError);
          return;
        }
        this.push(all.subarray(split.headerEnd));
      } else if (this.headerLength > (this.options.maxHeaderBytes ?? 1024 * 1024)) {
        done(new MailError(552, '5.3.4', 'Message header block too large', 'smtp'));
        return;
      } else {
        this.headerChunks = [all];
      }
    } else {
      this.push(chunk);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.previous === CR) {
      done(bareLineEnd());
      return;
    }
    if (this.headerChunks) {
      // No blank line: the whole message is headers.
      const headerError = this.emitHeaders(Buffer.concat(this.headerChunks));
      this.headerChunks = null;
      if (headerError) {
        done(headerError);
        return;
      }
    }
    done();
  }

  private validate(chunk: Buffer): MailError | null {
    this.bytes += chunk.length;
    if (this.bytes > this.options.maxMessageBytes) {
      return new MailError(552, '5.3.4', `Message size exceeds fixed limit of ${this.options.maxMessageBytes} bytes`, 'smtp');
    }
    // maxTextLineBytes counts the CRLF: 1000 allows 998 characters of text.
    const maxText = this.options.maxTextLineBytes - 2;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.previous === CR && byte !== LF) return bareLineEnd();
      if (byte === LF) {
        if (this.previous !== CR) return bareLineEnd();
        this.lineLength = 0;
      } else if (byte !== CR && ++this.lineLength > maxText) {
        return new MailError(554, '5.6.0', `Message has a line longer than ${this.options.maxTextLineBytes} bytes (RFC 5321 4.5.3.1.6)`, 'smtp');
      }
      this.previous = byte;
    }
    return null;
  }

  private emitHeaders(block: Buffer): MailError | null {
    const headers = parseHeaders(block.toString('latin1'));
    if (countHeaders(headers, 'Received') >= this.options.maxReceivedHeaders) {
      return new MailError(554, '5.4.6', `Mail loop detected: more than ${this.options.maxReceivedHeaders} Received headers`, 'smtp');
    }
    let added = this.options.traceHeader;
    if (this.options.completeHeaders) {
      if (!getHeader(headers, 'Message-ID')) added += `Message-ID: ${makeMessageId(this.options.hostname)}\r\n`;
      if (!getHeader(headers, 'Date')) added += `Date: ${formatRfc5322Date(this.options.now)}\r\n`;
    }
    let kept = block;
    if (getHeader(headers, 'TLS-Required')?.trim().toLowerCase() === 'no') this.options.onTlsOptional?.();
    // The tag and header stay in the (encrypted) body: pickup conversion reads and removes them.
    if (this.options.onPickup) {
      const subject = getHeader(headers, 'Subject') ?? '';
      const tag = this.options.pickupTag?.toLowerCase();
      if (getHeader(headers, 'Sealgate-Secure') !== undefined || (tag && subject.toLowerCase().includes(tag))) this.options.onPickup();
    }
    const required = getHeader(headers, 'Sealgate-Require');
    if (required !== undefined && this.options.onRequirement) {
      const level = required.trim().toLowerCase();
      if (!isLinkLevel(level)) {
        return new MailError(550, '5.7.10', `Sealgate-Require: unknown level ${JSON.stringify(required.slice(0, 40))}; use one of ${LINK_LEVELS.join(', ')}`, 'smtp');
      }
      this.options.onRequirement(level);
      // The requirement is an instruction to us, not part of the message.
      kept = Buffer.from(withoutField(block.toString('latin1'), REQUIRE_HEADER), 'latin1');
    }
    const rewritten = this.options.rewriteHeaders ? this.options.rewriteHeaders(kept) : kept;
    if (rewritten instanceof MailError) return rewritten;
    this.push(Buffer.from(added, 'latin1'));
    this.push(rewritten);
    return null;
  }
}

function bareLineEnd(): MailError {
  return new MailError(554, '5.6.11', 'Bare CR or LF in message; SMTP smuggling defence (RFC 5321 2.3.8)', 'smtp');
}
