import { randomBytes } from 'node:crypto';
import { parseHeaders } from './headers.ts';
import { formatRfc5322Date } from './message-id.ts';

export interface DsnRecipient {
  address: string;
  /** The RCPT ORCPT value, xtext-decoded: `rfc822;bob@example.org`. */
  orcpt?: string;
  /** RFC 3463 status, e.g. 5.1.1 */
  status: string;
  action: 'failed' | 'delayed' | 'delivered';
  /** `smtp; 550 5.1.1 No such user` */
  diagnostic?: string;
  remoteMta?: string;
  lastAttempt?: Date;
  willRetryUntil?: Date;
}

export interface DsnInput {
  reportingMta: string;
  arrivalDate: Date;
  now: Date;
  originalEnvelopeId?: string;
  sender: string;
  kind: 'failure' | 'delay' | 'success';
  recipients: DsnRecipient[];
  /** The original's header block. A report never carries the body (see `buildDsn`). */
  originalHeaders: string;
  /**
   * The original required a protected link (REQUIRETLS, a level, pickup): the report carries
   * only its Message-ID and Date, nothing of its content, so it may travel over any link.
   */
  redact?: boolean;
  /** Replaces the opening sentence of the notification (a report about our own notice says what it means). */
  intro?: string;
  messageId: string;
}

const SUBJECTS = {
  failure: 'Undelivered Mail Returned to Sender',
  delay: 'Delayed Mail (still being retried)',
  success: 'Successful Mail Delivery Report',
} as const;

const DEFAULT_STATUS = { failed: '5.0.0', delayed: '4.0.0', delivered: '2.0.0' } as const;

/** RFC 5322 §2.1.1: 998 octets per line before CRLF. */
const MAX_LINE_OCTETS = 998;
const SOFT_LINE = 78;

/** No bounce to the null sender or to a mailer daemon (RFC 5321 §4.5.5, §6.1): no loops. */
export function shouldBounce(sender: string): boolean {
  const address = sender.trim().replace(/^<(.*)>$/s, '$1').trim();
  if (address === '') return false;
  return !/^mailer-daemon(@|$)/i.test(address);
}

/** Values from remote servers and senders: no line break (or NUL) may survive into our output. */
function oneLine(value: string): string {
  return value.replace(/[\r\n\0]+/g, ' ').trim();
}

function normaliseCrlf(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '\r\n');
}

function octets(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function fits(text: string, soft: number): boolean {
  return text.length <= soft && octets(text) <= MAX_LINE_OCTETS;
}

/**
 * Folds one line at blanks: at most `soft` characters where a blank allows, never more
 * than 998 octets (a blank is inserted when a run has none to break at). Continuation
 * lines start with a blank, which is what header folding needs and harmless in plain text.
 */
function fold(line: string, soft = SOFT_LINE): string {
  if (fits(line, soft)) return line;
  // UTF-8 takes up to 3 octets per UTF-16 unit; 320 units stay under 998 octets.
  const hard = /[^\x00-\x7f]/.test(line) ? 320 : MAX_LINE_OCTETS - 8;
  const out: string[] = [];
  let current = '';
  const add = (token: string): void => {
    const blankOnly = /^[ \t]+$/.test(token);
    // Blank-only tokens (trailing blanks) stay put: a continuation line must not be blank.
    if (current === '' || fits(current + token, soft) || (blankOnly && fits(current + token, hard))) {
      current += token;
      return;
    }
    out.push(current);
    current = token;
  };
  // Each token is a word with the blanks before it, so a fold lands on a blank.
  for (const token of line.match(/[ \t]*[^ \t]+|[ \t]+/g) ?? []) {
    let rest = token;
    while (rest.length > hard) {
      let cut = hard;
      if (/[\ud800-\udbff]/.test(rest[cut - 1])) cut--; // keep surrogate pairs whole
      add(rest.slice(0, cut));
      rest = ` ${rest.slice(cut)}`;
    }
    add(rest);
  }
  out.push(current);
  return out.join('\r\n');
}

/** Text we copy (original headers): normalised to CRLF, only over-long lines folded. */
function copyLines(text: string): string {
  return normaliseCrlf(text.replace(/\0/g, ''))
    .split('\r\n')
    .map((line) => (octets(line) > MAX_LINE_OCTETS ? fold(line, MAX_LINE_OCTETS) : line))
    .join('\r\n');
}

/** `rfc822;bob@x` → `rfc822; bob@x`; a bare address gets the rfc822 type. */
function addressField(value: string): string {
  const clean = oneLine(value);
  const semi = clean.indexOf(';');
  if (semi > 0 && /^[A-Za-z0-9-]+$/.test(clean.slice(0, semi).trim())) {
    return `${clean.slice(0, semi).trim()}; ${clean.slice(semi + 1).trim()}`;
  }
  return `rfc822; ${clean}`;
}

function diagnosticField(value: string): string {
  const clean = oneLine(value);
  return /^[A-Za-z0-9-]+\s*;/.test(clean) ? clean.replace(/^([A-Za-z0-9-]+)\s*;\s*/, '$1; ') : `smtp; ${clean}`;
}

function statusOf(r: DsnRecipient): string {
  const status = oneLine(r.status);
  return /^[245]\.\d{1,3}\.\d{1,3}$/.test(status) ? status : DEFAULT_STATUS[r.action];
}

/** What of the original's header block goes back: never our control headers, and when redacted only what identifies it. */
function reportedHeaders(headerText: string, redact: boolean): string {
  const fields = parseHeaders(headerText).filter((f) => !/^sealgate-/i.test(f.name) && (!redact || /^(message-id|date)$/i.test(f.name)));
  return fields.map((f) => f.raw).join('\r\n');
}

function humanText(input: DsnInput): string {
  const host = oneLine(input.reportingMta);
  const what = input.redact
    ? 'It required a protected link, so only its Message-ID and Date are attached below.'
    : 'Its headers are attached below.';
  const intro = {
    failure: `Your message could not be delivered to one or more recipients. ${what}`,
    delay: `Your message has not been delivered yet to one or more recipients. Delivery is still being attempted; you do not need to send it again.${input.redact ? ` ${what}` : ''}`,
    success: 'Your message was delivered to the recipients listed below.',
  }[input.kind];
  const opening = input.intro ? oneLine(input.intro) : intro;
  const lines = input.recipients.map((r) => {
    const reply = r.diagnostic ? oneLine(r.diagnostic).replace(/^smtp\s*;\s*/i, '') : '';
    const where = r.remoteMta ? `host ${oneLine(r.remoteMta)} said: ` : '';
    const said = reply ? `${where}${reply}` : `status ${statusOf(r)}`;
    let text = fold(`<${oneLine(r.address)}>: ${said}`);
    if (r.willRetryUntil) text += `\r\n${fold(`    Attempts continue until ${formatRfc5322Date(r.willRetryUntil)}.`)}`;
    return text;
  });
  return `This is the mail system at ${host}.\r\n\r\n${fold(opening)}\r\n\r\n${lines.join('\r\n\r\n')}\r\n`;
}

function deliveryStatus(input: DsnInput): string {
  const perMessage = [`Reporting-MTA: dns; ${oneLine(input.reportingMta)}`];
  if (input.originalEnvelopeId) perMessage.push(`Original-Envelope-Id: ${oneLine(input.originalEnvelopeId)}`);
  perMessage.push(`Arrival-Date: ${formatRfc5322Date(input.arrivalDate)}`);
  const blocks = input.recipients.map((r) => {
    const fields: string[] = [];
    if (r.orcpt) fields.push(`Original-Recipient: ${addressField(r.orcpt)}`);
    fields.push(`Final-Recipient: rfc822; ${oneLine(r.address)}`);
    fields.push(`Action: ${r.action}`);
    fields.push(`Status: ${statusOf(r)}`);
    if (r.remoteMta) fields.push(`Remote-MTA: dns; ${oneLine(r.remoteMta)}`);
    if (r.diagnostic) fields.push(`Diagnostic-Code: ${diagnosticField(r.diagnostic)}`);
    if (r.lastAttempt) fields.push(`Last-Attempt-Date: ${formatRfc5322Date(r.lastAttempt)}`);
    if (r.willRetryUntil) fields.push(`Will-Retry-Until: ${formatRfc5322Date(r.willRetryUntil)}`);
    return fields.map((f) => fold(f)).join('\r\n');
  });
  return `${perMessage.map((f) => fold(f)).join('\r\n')}\r\n\r\n${blocks.join('\r\n\r\n')}\r\n`;
}

function part(boundary: string, type: string, description: string, content: string): string {
  // Non-ASCII content (SMTPUTF8 addresses, 8-bit originals) must be labelled 8bit.
  const cte = /[^\x00-\x7f]/.test(content) ? '\r\nContent-Transfer-Encoding: 8bit' : '';
  return `--${boundary}\r\nContent-Type: ${type}\r\nContent-Description: ${description}${cte}\r\n\r\n${content}`;
}

/**
 * An RFC 3464 delivery status notification as a complete RFC 5322 message, CRLF throughout.
 * Every report (failure, delay, success) carries the original's headers only, as
 * text/rfc822-headers (RFC 6522 §3, the RET=HDRS form of RFC 3461 §4.3), whatever RET asked:
 * a bounce is sent to a reverse path nobody verified, so the body of inbound mail must never
 * go back to it (backscatter), and a body that required a protected link must not return over
 * a weaker one. A redacted report (RFC 8689 §5 allows a report of a REQUIRETLS message
 * without REQUIRETLS once redacted) carries only the original's Message-ID and Date.
 */
export function buildDsn(input: DsnInput): string {
  const boundary = `sealgate-dsn-${randomBytes(12).toString('hex')}`;
  const headers = [
    `From: Mail Delivery System <MAILER-DAEMON@${oneLine(input.reportingMta)}>`,
    `To: <${oneLine(input.sender)}>`,
    `Subject: ${SUBJECTS[input.kind]}`,
    `Date: ${formatRfc5322Date(input.now)}`,
    `Message-ID: ${oneLine(input.messageId)}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
  ].map((h) => fold(h));
  const original = copyLines(reportedHeaders(input.originalHeaders, input.redact === true)).replace(/(\r\n)*$/, '\r\n');
  const parts = [
    part(boundary, 'text/plain; charset=utf-8', 'Notification', humanText(input)),
    part(boundary, 'message/delivery-status', 'Delivery report', deliveryStatus(input)),
    part(boundary, 'text/rfc822-headers', input.redact ? 'Identity of the original message' : 'Headers of the original message', original),
  ];
  return `${headers.join('\r\n')}\r\n\r\nThis is a MIME-encapsulated delivery status report.\r\n\r\n${parts.join('\r\n')}\r\n--${boundary}--\r\n`;
}
