import type { Envelope, LinkRequirement, OwnNotice } from '../kernel/index.ts';

/*
 * Where a pickup's notice stands, in words the sender and the admin read: the queue entry of
 * the held message names the pickup and the notice's own queue id (the receipt reply below),
 * and the notice's envelope names the pickup and the held message back (OwnNotice). So
 * `sealgate queue show` of either finds the other, and the delivery worker can tell the
 * pickup's events and its sender what became of the notice.
 */

/** The envelope of a notice queued for one recipient: null sender, no DSN back to it. */
export function noticeEnvelope(recipient: string, notice: OwnNotice): Envelope {
  return { mailFrom: '', recipients: [{ address: recipient, notify: ['NEVER'] }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME', notice };
}

const VERIFIED: readonly LinkRequirement[] = ['tls-verified', 'dane'];

/** The warning a notice over a weaker link than `tls-verified` carries (issue 10 item 3), or ''. */
export function weakLinkWarning(level: LinkRequirement | undefined, tense: 'will' | 'did'): string {
  if (level === undefined || VERIFIED.includes(level)) return '';
  const what = level === 'none' ? 'in plain text' : "over TLS that was not verified ('tls')";
  return tense === 'will'
    ? ` WARNING: the notice, with the link and message password, will most likely go ${what}, below tls-verified; a passphrase or question keeps the message safe if it is read on the way.`
    : ` WARNING: the notice, with the link and message password, went ${what}, below tls-verified.`;
}

/** The receipt reply of a recipient held for pickup. */
export function heldReply(pickupId: string, reason: string, noticeQueueId: string, bestLink?: LinkRequirement): string {
  return `250 2.0.0 Held for Secure Message Pickup ${pickupId} (${reason.replace(/[\r\n]+/g, ' ')}); notice queued as ${noticeQueueId}.${weakLinkWarning(bestLink, 'will')}`;
}

/** The pickup and notice ids in a receipt reply written by `heldReply`, or undefined for any other reply. */
export function parseHeldReply(reply: string | null | undefined): { pickupId: string; noticeQueueId?: string } | undefined {
  const held = /^250 2\.0\.0 Held for Secure Message Pickup ([A-Za-z0-9_-]+)/.exec(reply ?? '');
  if (!held) return undefined;
  const notice = /; notice queued as ([A-Za-z0-9_-]+)/.exec(reply ?? '');
  return { pickupId: held[1], noticeQueueId: notice?.[1] };
}

/** The detail of a `notice-delivered` event: the link level and host it went over. */
export function noticeDeliveredDetail(recipient: string, link: LinkRequirement | undefined, mxHost: string | null, ip: string | null): string {
  return `notice delivered to ${recipient} over '${link ?? 'unknown'}' via ${mxHost ?? '?'} [${ip ?? '?'}].${weakLinkWarning(link, 'did')}`;
}
