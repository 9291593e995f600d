import { randomBytes } from 'node:crypto';
import { formatRfc5322Date } from './message-id.ts';

export interface DsnRecipient {
  address: string;
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
  returnContent: 'FULL' | 'HDRS';
  originalHeaders: string;
  originalBody?: string;
  messageId: string;
}

const SUBJECTS = {
  failure: 'Undelivered Mail Returned to Sender',
  delay: 'Delayed Mail (still being retried)',
  success: 'Successful Mail Delivery Report',
};

/** Values from remote servers and senders: no line breaks may survive into our headers. */
function oneLine(value: string): string {
  return value.replace(/[\r\n\x00]+/g, ' ').trim();
}

/** Folds at spaces so no line exceeds 78 characters where possible, never 998. */
function fold(line: string): string {
  if (line.length <= 78) return line;
  const out: string[] = [];
  let rest = line;
  while (rest.length > 78) {
    let cut = rest.lastIndexOf(' ', 78);
    if (cut <= 0) cut = Math.min(rest.length, 900);
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
    if (rest && !rest.startsWith(' ')) rest = ` ${rest}`;
  }
  if (rest.trim()) out.push(rest);
  return out.join('\r\n');
}

function normaliseCrlf(text: string): string {
  return text.replace(/\r?\n|\r/g, '\r\n');
}

/** No bounce to the null sender or to a mailer daemon (RFC 5321 §6.1, §4.5.5). */
export function shouldBounce(sender: string): boolean {
  if (!sender) return false;
  return !/^(mailer-daemon|postmaster)@/i.test(sender) || /^postmaster@/i.test(sender);
}

function humanText(input: DsnInput): string {
  const intro = {
    failure: `This is the mail system at ${input.reportingMta}.\r\n\r\nYour message could not be delivered to one or more recipients. It is attached below.`,
    delay: `This is the mail system at ${input.reportingMta}.\r\n\r\nYour message has not been delivered yet to one or more recipients. Delivery is still being attempted; you do not need to resend it.`,
    success: `This is the mail system at ${input.reportingMta}.\r\n\r\nYour message was delivered.`,
  }[input.kind];
  const lines = input.recipients.map((r) => {
    const reply = r.diagnostic ? oneLine(r.diagnostic.replace(/^smtp;\s*/i, '')) : 'no reply';
    const where = r.remoteMta ? ` (server ${oneLine(r.remoteMta)})` : '';
    const until = r.willRetryUntil ? `\r\n    Attempts continue until ${formatRfc5322Date(r.willRetryUntil)}.` : '';
    return fold(`<${oneLine(r.address)}>${where}: ${reply}`) + until;
  });
  return `${intro}\r\n\r\n${lines.join('\r\n\r\n')}\r\n`;
}

function deliveryStatus(input: DsnInput): string {
  const perMessage = [`Reporting-MTA: dns; ${oneLine(input.reportingMta)}`];
  if (input.originalEnvelopeId) perMessage.push(`Original-Envelope-Id: ${oneLine(input.originalEnvelopeId)}`);
  perMessage.push(`Arrival-Date: ${formatRfc5322Date(input.arrivalDate)}`);
  const blocks = input.recipients.map((r) => {
    const fields: string[] = [];
    if (r.orcpt) fields.push(`Original-Recipient: ${oneLine(r.orcpt.includes(';') ? r.orcpt : `rfc822; ${r.orcpt}`)}`);
    fields.push(`Final-Recipient: rfc822; ${oneLine(r.address)}`);
    fields.push(`Action: ${r.action}`);
    fields.push(`Status: ${r.status}`);
    if (r.remoteMta) fields.push(`Remote-MTA: dns; ${oneLine(r.remoteMta)}`);
    if (r.diagnostic) fields.push(fold(`Diagnostic-Code: ${oneLine(r.diagnostic)}`));
    if (r.lastAttempt) fields.push(`Last-Attempt-Date: ${formatRfc5322Date(r.lastAttempt)}`);
    if (r.willRetryUntil) fields.push(`Will-Retry-Until: ${formatRfc5322Date(r.willRetryUntil)}`);
    return fields.join('\r\n');
  });
  return `${perMessage.join('\r\n')}\r\n\r\n${blocks.join('\r\n\r\n')}\r\n`;
}

/** An RFC 3464 delivery status notification as a complete RFC 5322 message. */
export function buildDsn(input: DsnInput): string {
  const boundary = `sealgate-dsn-${randomBytes(9).toString('base64url')}`;
  const headers = [
    `From: Mail Delivery System <MAILER-DAEMON@${oneLine(input.reportingMta)}>`,
    `To: <${oneLine(input.sender)}>`,
    `Subject: ${SUBJECTS[input.kind]}`,
    `Date: ${formatRfc5322Date(input.now)}`,
    `Message-ID: ${input.messageId}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"`,
  ];
  const original = normaliseCrlf(input.originalHeaders).replace(/(\r\n)*$/, '\r\n');
  const parts = [
    `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Description: Notification\r\n\r\n${humanText(input)}`,
    `--${boundary}\r\nContent-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n\r\n${deliveryStatus(input)}`,
    input.returnContent === 'FULL' && input.originalBody !== undefined
      ? `--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Description: Undelivered message\r\n\r\n${normaliseCrlf(input.originalBody).replace(/(\r\n)?$/, '\r\n')}`
      : `--${boundary}\r\nContent-Type: text/rfc822-headers\r\nContent-Description: Headers of the original message\r\n\r\n${original}`,
  ];
  return `${headers.join('\r\n')}\r\n\r\nThis is a MIME-encapsulated delivery status report.\r\n\r\n${parts.join('\r\n')}\r\n--${boundary}--\r\n`;
}
