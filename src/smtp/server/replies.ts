import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { MailError } from '../../kernel/index.ts';

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;
let installed = false;

/**
 * smtp-server derives the enhanced status code from the reply code alone (554 → 5.6.0), but
 * our replies need specific ones (5.6.11 smuggling, 5.4.6 loop, 5.7.11 encryption needed).
 * A reply text that starts with its own enhanced code is sent as is; smtp-server's fixed
 * "538 5.7.0" for AUTH before STARTTLS becomes RFC 4954's "538 5.7.11", and the EHLO reply of a
 * plaintext session does not offer AUTH.
 */
export function installReplyCodes(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as { send(code: number, data?: unknown, context?: unknown): void };
  const original = proto.send;
  proto.send = function send(this: { secure?: boolean }, code: number, data?: unknown, context?: unknown) {
    // AUTH is refused before TLS, so it is not advertised there either (RFC 3207 §4.2).
    if (code === 250 && Array.isArray(data) && !this.secure) data = data.filter((line) => !/^AUTH\b/.test(String(line)));
    if (code === 538) return original.call(this, 538, '5.7.11 Encryption required for requested authentication mechanism', false);
    if (typeof data === 'string' && ENHANCED_PREFIX.test(data)) return original.call(this, code, data, false);
    return original.call(this, code, data, context);
  };
}

/** The error shape smtp-server's callbacks understand, carrying our code and enhanced code. */
export function toSmtpError(error: MailError): Error & { responseCode: number } {
  const smtpError = new Error(`${error.enhanced} ${error.message}`) as Error & { responseCode: number };
  smtpError.responseCode = error.code;
  return smtpError;
}

export function smtpError(code: number, enhanced: string, message: string): Error & { responseCode: number } {
  const smtpErr = new Error(`${enhanced} ${message}`) as Error & { responseCode: number };
  smtpErr.responseCode = code;
  return smtpErr;
}
