/**
 * Every failure a client or sender can see carries its SMTP identity (maddy's exterrors):
 * the reply code, the enhanced status code, whether it is temporary, and which module said it.
 * `message` is the sentence a person can act on; it is what goes on the wire.
 */
export class MailError extends Error {
  readonly code: number;
  readonly enhanced: string;
  readonly temporary: boolean;
  readonly module: string;

  constructor(code: number, enhanced: string, message: string, module: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MailError';
    this.code = code;
    this.enhanced = enhanced;
    this.temporary = code >= 400 && code < 500;
    this.module = module;
  }

  /** The reply line as a client sees it: `552 5.3.4 Message too big`. */
  get reply(): string {
    return `${this.code} ${this.enhanced} ${this.message}`;
  }
}

export function isMailError(value: unknown): value is MailError {
  return value instanceof MailError;
}
