import { formatRfc5322Date, makeMessageId } from '../mail/index.ts';

/*
 * The small e-mails the portal sends itself: a one-time code to the recipient, a read notice
 * to the sender. Neither carries any content of the message.
 */

export interface OutgoingMail {
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

function build(hostname: string, to: string, subject: string, text: string, now: Date): OutgoingMail {
  const from = `no-reply@${hostname}`;
  const headers = [
    `From: Sealgate <${from}>`, `To: <${to.replace(/[\r\n<>]/g, '')}>`, `Subject: ${subject}`, `Date: ${formatRfc5322Date(now)}`, `Message-ID: ${makeMessageId(hostname)}`,
    'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', 'Auto-Submitted: auto-generated',
  ];
  const body = text.replace(/\r?\n/g, '\r\n');
  return { envelope: { from, to: [to] }, raw: Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}\r\n`, 'utf8') };
}

export function codeMail(hostname: string, to: string, code: string, ttlMinutes: number, now: Date): OutgoingMail {
  return build(hostname, to, 'Your one-time code', [
    `Your one-time code for the secure message waiting for you is:`,
    '',
    `    ${code}`,
    '',
    `It is valid for ${ttlMinutes} minutes. If you did not ask for it, ignore this e-mail.`,
  ].join('\n'), now);
}

export function readNoticeMail(hostname: string, sender: string, recipient: string, openedAt: Date): OutgoingMail {
  return build(hostname, sender, 'Your secure message was opened', [
    `Your secure message to ${recipient} was opened on ${openedAt.toUTCString()}.`,
    '',
    'The access log in the Sealgate console shows every open, download and reply.',
  ].join('\n'), openedAt);
}

/** `user@example.org` → `u•••@example.org`, for telling the recipient where a code went. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 1) return address;
  return `${address[0]}•••${address.slice(at)}`;
}
