import { makeMessageId } from '../mail/index.ts';
import { buildCodeMail, buildReadNotice } from '../pickup/index.ts';

/*
 * The small e-mails the portal sends itself: a one-time code to the recipient, a read notice
 * to the sender. pickup/notice.ts builds them; neither carries any content of the message.
 */

export interface OutgoingMail {
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

const portalAddress = (hostname: string): string => `no-reply@${hostname}`;

export function codeMail(hostname: string, to: string, code: string, ttlMinutes: number, now: Date): OutgoingMail {
  const from = portalAddress(hostname);
  return { envelope: { from, to: [to] }, raw: buildCodeMail({ from, to, code, validMinutes: ttlMinutes, messageId: makeMessageId(hostname), date: now }) };
}

export function readNoticeMail(hostname: string, sender: string, recipient: string, openedAt: Date): OutgoingMail {
  const from = portalAddress(hostname);
  return { envelope: { from, to: [sender] }, raw: buildReadNotice({ from, to: sender, recipient, openedAt, messageId: makeMessageId(hostname), date: openedAt }) };
}

/** `user@example.org` → `u•••@example.org`, for telling the recipient where a code went. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 1) return address;
  return `${address[0]}•••${address.slice(at)}`;
}
