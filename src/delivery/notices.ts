/**
 * What the delivery worker does for our own pickup notices once they are settled: the pickup
 * hears the final state, and the pickup's sender gets the report (the notice itself goes out
 * with the null sender, which nobody may report to).
 */
import type { DeliveryReceipt, LinkRequirement, Logger, OwnNotice } from '../kernel/index.ts';
import type { LeasedGroup, Settlement } from '../queue/index.ts';
import type { ReportOptions } from './bounce.ts';

/** A pickup notice reached a final state (told before the queue records it). */
export interface NoticeOutcome {
  notice: OwnNotice;
  /** The notice's own queue id. */
  messageId: string;
  recipient: string;
  outcome: 'delivered' | 'failed';
  reply: string;
  /** Delivered: the link level the session reached. */
  link?: LinkRequirement;
  receipt: DeliveryReceipt;
}

/** Where the report about an undelivered pickup notice goes, and what it tells the sender. */
export function noticeReport(notice: OwnNotice | undefined, kind: 'failure' | 'delay'): ReportOptions | undefined {
  if (notice?.kind !== 'pickup-notice' || !notice.reportTo) return undefined;
  const held = `Your message to the recipient below is held for Secure Message Pickup${notice.pickupId ? ` (${notice.pickupId})` : ''}, but the notice that tells them how to open it`;
  const rest = "The notice's headers are attached below; it carried nothing of your message.";
  return {
    to: notice.reportTo,
    intro: kind === 'failure'
      ? `${held} could not be delivered, so they do not know it is there. Tell them another way, or retract the message in the console. ${rest}`
      : `${held} has not been delivered yet; delivery is still being attempted. ${rest}`,
  };
}

/**
 * A pickup notice's final state goes to its pickup's events before the queue records it (a
 * crash in between repeats the event, never loses it). A failure here is logged: the queue
 * still says where the notice stands (`queue show`).
 */
export async function tellNoticeOutcomes(
  group: LeasedGroup,
  settlements: Settlement[],
  results: { recipientId: number; link?: LinkRequirement }[],
  tell: (outcome: NoticeOutcome) => Promise<void>,
  logger: Logger,
): Promise<void> {
  const notice = group.envelope.notice;
  if (notice?.kind !== 'pickup-notice') return;
  for (const settlement of settlements) {
    if (settlement.state === 'queued' || !settlement.receipt) continue;
    const result = results.find((r) => r.recipientId === settlement.recipientId);
    const outcome: NoticeOutcome = {
      notice,
      messageId: group.messageId,
      recipient: settlement.receipt.recipient,
      outcome: settlement.state,
      reply: settlement.reply,
      link: result?.link,
      receipt: settlement.receipt,
    };
    await tell(outcome).catch((error: Error) => logger.warn({ err: error.message, messageId: group.messageId, pickupId: notice.pickupId }, 'pickup notice outcome not recorded'));
  }
}
