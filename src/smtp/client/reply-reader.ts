export interface SmtpReply {
  code: number;
  /** RFC 3463 code when the server sent one (ENHANCEDSTATUSCODES). */
  enhanced?: string;
  /** Text of every line, without code and enhanced code. */
  lines: string[];
  /** The last line exactly as received, for receipts and bounces. */
  raw: string;
}

const MAX_LINE = 4096;
const MAX_LINES = 100;

/**
 * Turns a byte stream into SMTP replies. Everything is kept as received (latin1) so the
 * receipt quotes the server verbatim.
 */
export class ReplyReader {
  private buffer = '';
  private lines: string[] = [];
  private readonly replies: SmtpReply[] = [];
  private error: Error | null = null;

  push(data: Buffer): void {
    this.buffer += data.toString('latin1');
    let index: number;
    while ((index = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, index).replace(/\r$/, '');
      this.buffer = this.buffer.slice(index + 1);
      this.line(line);
    }
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

  shift(): SmtpReply | undefined {
    return this.replies.shift();
  }

  /** After STARTTLS: whatever the server sent before the handshake is not to be trusted. */
  discard(): void {
    this.buffer = '';
    this.lines = [];
    this.replies.length = 0;
  }
}
