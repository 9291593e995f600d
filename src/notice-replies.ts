import { Readable } from 'node:stream';
import { noticeAddress, type Config } from './config/index.ts';
import type { Clock, Logger } from './kernel/index.ts';
import { autoReplyRefusal, getHeader, isAscii, makeMessageId } from './mail/index.ts';
import { buildNoticeReplyAnswer, mailBrand } from './pickup/index.ts';
import type { Queue } from './queue/index.ts';
import type { NoticeReply } from './smtp/index.ts';

/*
 * What happens to a reply to a notice (or a code mail, or a read notice): they all come from
 * the notice address, and a person who presses "Reply" writes to it. The gateway answers with
 * an explanation (RFC 3834 auto-reply) rather than forwarding the reply to the sender:
 * - a reply usually quotes the notice, i.e. the link and the message password; forwarding it
 *   would copy the key to the pickup over another unverified hop into a plain mailbox;
 * - a forwarding address would let anyone on the Internet mail the organisation's staff from
 *   a trusted internal address;
 * - the answer names no sender and repeats nothing of the mail (not even its subject), so a
 *   forged envelope sender learns no address and cannot make us carry its words.
 * Notices carry no Reply-To for the same first reason. The answer goes to the envelope sender
 * (RFC 3834 §4) from the null sender (§3.3), at most once a day per sender and at most
 * MAX_PER_HOUR per node in all, which bounds the backscatter a forged sender can cause.
 * The memory of who was answered is per node and forgotten on restart: at worst a second
 * answer.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MAX_PER_HOUR = 100;
const REMEMBERED_SENDERS = 10_000;

export interface NoticeReplyDeps {
  config: Config;
  queue: Pick<Queue, 'enqueue'>;
  clock: Clock;
  logger: Logger;
  /** Wakes the delivery worker after the answer is queued. */
  notify(): void;
}

export function createNoticeReplyAnswerer(deps: NoticeReplyDeps): (reply: NoticeReply) => Promise<'answered' | 'not-answered'> {
  const own = noticeAddress(deps.config);
  const answeredAt = new Map<string, number>();
  let hourStart = 0;
  let answeredThisHour = 0;
  return async (reply) => {
    const now = deps.clock.now();
    const sender = reply.mailFrom.toLowerCase();
    const refusal = autoReplyRefusal({ mailFrom: reply.mailFrom, headers: reply.headers, ownAddress: own });
    const why = refusal ?? (!isAscii(reply.mailFrom) ? 'non-ascii-sender'
      : (answeredAt.get(sender) ?? -Infinity) > now - DAY_MS ? 'answered-today'
        : now - hourStart < HOUR_MS && answeredThisHour >= MAX_PER_HOUR ? 'hourly-limit' : null);
    if (why) {
      deps.logger.info({ reason: why, ip: reply.clientIp }, 'mail to the notice address not answered');
      return 'not-answered';
    }
    if (now - hourStart >= HOUR_MS) {
      hourStart = now;
      answeredThisHour = 0;
    }
    answeredThisHour++;
    answeredAt.delete(sender);
    answeredAt.set(sender, now);
    // Oldest first in a Map: forget the longest-answered once there are too many.
    if (answeredAt.size > REMEMBERED_SENDERS) answeredAt.delete(answeredAt.keys().next().value!);
    const raw = buildNoticeReplyAnswer({
      from: own,
      to: reply.mailFrom,
      inReplyTo: getHeader(reply.headers, 'Message-ID'),
      messageId: makeMessageId(deps.config.hostname),
      date: new Date(now),
      hostname: deps.config.hostname,
      ...mailBrand(deps.config),
    });
    await deps.queue.enqueue({ mailFrom: '', recipients: [{ address: reply.mailFrom, notify: ['NEVER'] }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' }, Readable.from([raw]));
    deps.notify();
    return 'answered';
  };
}
