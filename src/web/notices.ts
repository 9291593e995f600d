import { noticeAddress, type Config } from '../config/index.ts';
import { makeMessageId } from '../mail/index.ts';
import { buildBreakGlassNotice, buildCodeMail, buildNewBrowserNotice, buildReadNotice, buildReplyNotice, mailBrand } from '../pickup/index.ts';

/*
 * The small e-mails the portal sends itself: a one-time code to the recipient, a read notice
 * and a reply notice to the sender. pickup/notice.ts builds them; none carries any content of
 * the message. They come from the notice address (`branding.noticeFrom`), which answers a reply.
 */

export interface OutgoingMail {
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

export function codeMail(config: Config, to: string, code: string, ttlMinutes: number, now: Date): OutgoingMail {
  const from = noticeAddress(config);
  return { envelope: { from, to: [to] }, raw: buildCodeMail({ from, to, code, validMinutes: ttlMinutes, messageId: makeMessageId(config.hostname), date: now, ...mailBrand(config) }) };
}

export function readNoticeMail(config: Config, sender: string, recipient: string, openedAt: Date): OutgoingMail {
  const from = noticeAddress(config);
  return { envelope: { from, to: [sender] }, raw: buildReadNotice({ from, to: sender, recipient, openedAt, messageId: makeMessageId(config.hostname), date: openedAt, ...mailBrand(config) }) };
}

export function newBrowserMail(config: Config, sender: string, recipient: string, at: Date): OutgoingMail {
  const from = noticeAddress(config);
  return { envelope: { from, to: [sender] }, raw: buildNewBrowserNotice({ from, to: sender, recipient, at, messageId: makeMessageId(config.hostname), date: at, ...mailBrand(config) }) };
}

export function replyNoticeMail(config: Config, sender: string, recipient: string, consoleUrl: string, repliedAt: Date): OutgoingMail {
  const from = noticeAddress(config);
  return { envelope: { from, to: [sender] }, raw: buildReplyNotice({ from, to: sender, recipient, repliedAt, consoleUrl, messageId: makeMessageId(config.hostname), date: repliedAt, ...mailBrand(config) }) };
}

export function breakGlassMail(config: Config, admin: string, at: Date, ip: string, reason: string): OutgoingMail {
  const from = noticeAddress(config);
  return { envelope: { from, to: [admin] }, raw: buildBreakGlassNotice({ from, to: admin, at, ip, reason, messageId: makeMessageId(config.hostname), date: at, ...mailBrand(config) }) };
}

/** `user@example.org` → `u•••@example.org`, for telling the recipient where a code went. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 1) return address;
  return `${address[0]}•••${address.slice(at)}`;
}
