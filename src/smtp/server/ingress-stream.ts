import { Transform, type TransformCallback } from 'node:stream';
import { isLinkLevel, LINK_LEVELS, MailError, type LinkRequirement } from '../../kernel/index.ts';
import { countHeaders, encodeHeaderLine, getHeader, makeMessageId, formatRfc5322Date, parseHeaders, subjectHasTag } from '../../mail/index.ts';

export interface IngressStreamOptions {
  maxMessageBytes: number;
  /** Including the CRLF, as RFC 5321 §4.5.3.1.6 counts it. */
  maxTextLineBytes: number;
  maxReceivedHeaders: number;
  maxHeaderBytes?: number;
  /** Prepended as is (our Received: line as wire bytes, CRLF-terminated). */
  traceHeader: Buffer;
  /**
   * The client declared BODY=8BITMIME or SMTPUTF8. Without it a byte over 127 is refused
   * (RFC 6152 §3: 8-bit data only after BODY=8BITMIME), as Postfix does with
   * strict_8bitmime_body: relaying it as 7BIT would make us the one who breaks the next hop.
   */
  eightBit: boolean;
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
const NUL = 0x00;

/**
 * Validates the DATA stream as it arrives and adds our trace headers, holding back only the
 * header block. Bare CR or bare LF is refused outright: every SMTP smuggling variant
 * (`<LF>.<LF>`, `<CR>.<CR>`, `<LF>.<CRLF>` …) needs one, and a message with one would be
 * re-terminated differently by the next hop. NUL is refused too: a next hop that drops NUL
 * would read `<CRLF><NUL>.<CRLF>` as the end of data. Each byte is looked at once, the
 * header's end included, so a header trickled in small writes costs what it costs in bulk.
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
    // Refusals come in stream order whatever the chunking: the header block is judged before
    // any byte after it is scanned (test/fuzz/ingress-chunking.test.ts holds us to that).
    let offset = 0;
    if (this.headerChunks) {
      const headerEnd = this.scan(chunk, 0, true);
      if (headerEnd instanceof MailError) {
        done(headerEnd);
        return;
      }
      if (headerEnd < 0) {
        this.headerChunks.push(chunk);
        done();
        return;
      }
      this.headerChunks.push(chunk.subarray(0, headerEnd));
      const block = Buffer.concat(this.headerChunks);
      this.headerChunks = null;
      const headerError = this.emitHeaders(block);
      if (headerError) {
        done(headerError);
        return;
      }
      offset = headerEnd;
    }
    if (offset < chunk.length) {
      const error = this.scan(chunk, offset, false);
      if (error instanceof MailError) {
        done(error);
        return;
      }
      this.push(offset ? chunk.subarray(offset) : chunk);
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

  /**
   * Checks the bytes of a chunk from `start`; returns the first refusal, or (in the header)
   * the offset just past the blank line that ends it, else -1. Limits are counted per byte so
   * that where a write happens to end changes nothing.
   */
  private scan(chunk: Buffer, start: number, inHeader: boolean): MailError | number {
    const maxBytes = this.options.maxMessageBytes;
    const maxHeader = this.options.maxHeaderBytes ?? 1024 * 1024;
    // maxTextLineBytes counts the CRLF: 1000 allows 998 characters of text.
    const maxText = this.options.maxTextLineBytes - 2;
    const eightBit = this.options.eightBit;
    for (let i = start; i < chunk.length; i++) {
      const byte = chunk[i];
      if (++this.bytes > maxBytes) return new MailError(552, '5.3.4', `Message size exceeds fixed limit of ${maxBytes} bytes`, 'smtp');
      if (inHeader && ++this.headerLength > maxHeader) return new MailError(552, '5.3.4', 'Message header block too large', 'smtp');
      if (this.previous === CR && byte !== LF) return bareLineEnd();
      if (byte === LF) {
        if (this.previous !== CR) return bareLineEnd();
        this.previous = byte;
        const blank = this.lineLength === 0;
        this.lineLength = 0;
        // An empty line (CRLF alone) ends the header block; a message may start with one.
        if (inHeader && blank) return i + 1;
        continue;
      }
      if (byte !== CR) {
        if (byte === NUL) return new MailError(554, '5.6.0', 'Message contains a NUL byte; NUL is not allowed in mail (RFC 5322 2.3)', 'smtp');
        if (byte > 0x7f && !eightBit) return new MailError(554, '5.6.0', 'Message contains 8-bit data but was not sent with BODY=8BITMIME (RFC 6152)', 'smtp');
        if (++this.lineLength > maxText) return new MailError(554, '5.6.0', `Message has a line longer than ${this.options.maxTextLineBytes} bytes (RFC 5321 4.5.3.1.6)`, 'smtp');
      }
      this.previous = byte;
    }
    return -1;
  }

  private emitHeaders(block: Buffer): MailError | null {
    const headers = parseHeaders(block.toString('latin1'));
    if (countHeaders(headers, 'Received') >= this.options.maxReceivedHeaders) {
      return new MailError(554, '5.4.6', `Mail loop detected: more than ${this.options.maxReceivedHeaders} Received headers`, 'smtp');
    }
    const added: Buffer[] = [this.options.traceHeader];
    if (this.options.completeHeaders) {
      if (!getHeader(headers, 'Message-ID')) added.push(encodeHeaderLine('Message-ID', makeMessageId(this.options.hostname)));
      if (!getHeader(headers, 'Date')) added.push(encodeHeaderLine('Date', formatRfc5322Date(this.options.now)));
    }
    let kept = block;
    if (getHeader(headers, 'TLS-Required')?.trim().toLowerCase() === 'no') this.options.onTlsOptional?.();
    // The tag and header stay in the (encrypted) body: pickup conversion reads and removes them.
    if (this.options.onPickup) {
      const tag = this.options.pickupTag?.toLowerCase();
      // The tag may sit inside RFC 2047 words (a non-ASCII subject): subjectHasTag decodes them.
      // Every Subject field counts: the rewrite takes the tag out of each, and a client may show any.
      const tagged = !!tag && headers.some((h) => h.name.toLowerCase() === 'subject' && subjectHasTag(h.value, tag));
      if (getHeader(headers, 'Sealgate-Secure') !== undefined || tagged) this.options.onPickup();
    }
    const required = getHeader(headers, 'Sealgate-Require');
    if (required !== undefined && this.options.onRequirement) {
      const level = required.trim().toLowerCase();
      if (!isLinkLevel(level)) {
        return new MailError(550, '5.7.10', `Sealgate-Require: unknown level ${JSON.stringify(required.slice(0, 40))}; use one of ${LINK_LEVELS.join(', ')}`, 'smtp');
      }
      this.options.onRequirement(level);
      // The requirement is an instruction to us, not part of the message. latin1 both ways
      // maps each byte to one code unit and back, so the rest of the block is kept byte-exact.
      kept = Buffer.from(withoutField(block.toString('latin1'), REQUIRE_HEADER), 'latin1');
    }
    const rewritten = this.options.rewriteHeaders ? this.options.rewriteHeaders(kept) : kept;
    if (rewritten instanceof MailError) return rewritten;
    this.push(Buffer.concat([...added, rewritten]));
    return null;
  }
}

function bareLineEnd(): MailError {
  return new MailError(554, '5.6.11', 'Bare CR or LF in message; SMTP smuggling defence (RFC 5321 2.3.8)', 'smtp');
}
