export interface SmtpReply {
  code: number;
  /** RFC 3463 code when the server sent one (ENHANCEDSTATUSCODES). */
  enhanced?: string;
  /** Text of every line, without code and enhanced code. */
  lines: string[];
  /** The last line exactly as received, for receipts and bounces. */
  raw: string;
  /** Made by our client, not received (an address this server cannot take). */
  local?: true;
}

const MAX_LINE = 4096;
const MAX_LINES = 100;

// Controls in a reply would travel on into receipts, logs, bounce headers and the audit
// trail; bidi controls too, which reorder what a terminal or a spreadsheet shows after them.
const CONTROLS = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Turns a byte stream into SMTP replies. Lines are split on bytes, then read as UTF-8 (RFC
 * 6531 §3.7.4.2 lets a server answer in UTF-8; a legacy 8-bit byte becomes U+FFFD) with any
 * control character shown as '?', so the receipt quotes the server as closely as is safe.
 */
export class ReplyReader {
  private buffer: Buffer = Buffer.alloc(0);
  private lines: string[] = [];
  private readonly replies: SmtpReply[] = [];
  private error: Error | null = null;

  push(data: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, data]) : data;
    let start = 0;
    let index: number;
    while ((index = this.buffer.indexOf(0x0a, start)) >= 0) {
      const end = index > start && this.buffer[index - 1] === 0x0d ? index - 1 : index;
      this.line(this.buffer.toString('utf8', start, end).replace(CONTROLS, '?'));
      start = index + 1;
    }
    this.buffer = this.buffer.subarray(start);
    if (this.buffer.length > MAX_LINE) this.fail(new Error('server reply line too long'));
  }

  private line(line: string): void {
    const match = /^(\d{3})([ -])(.*)$/.exec(line) ?? /^(\d{3})()()$/.exec(line);
    if (!match) {
      this.fail(new Error(`malformed server reply: ${JSON.stringify(line.slice(0, 200))}`));
      return;
    }
    this.lines.push(line);
    if (this.lines.length > MAX_LINES) {
      this.fail(new Error('server reply has too many lines'));
      return;
    }
    if (match[2] === '-') return;
    const code = Number(match[1]);
    const texts = this.lines.map((l) => l.slice(4));
    const enhanced = /^([245]\.\d{1,3}\.\d{1,3})(?: |$)/.exec(texts[texts.length - 1])?.[1];
    this.replies.push({ code, enhanced, lines: texts.map((t) => (enhanced && t.startsWith(enhanced) ? t.slice(enhanced.length).trim() : t)), raw: line });
    this.lines = [];
  }

  fail(error: Error): void {
    this.error ??= error;
  }

  get failure(): Error | null {
    return this.error;
  }

  /** Complete replies received and not yet taken. */
  get pending(): number {
    return this.replies.length;
  }

  shift(): SmtpReply | undefined {
    return this.replies.shift();
  }

  /** After STARTTLS: whatever the server sent before the handshake is not to be trusted. */
  discard(): void {
    this.buffer = Buffer.alloc(0);
    this.lines = [];
    this.replies.length = 0;
  }
}
