import type { DeliveryReceipt } from '../kernel/index.ts';
import { parseHeldReply } from '../pickup/index.ts';
import type { MessageSummary, Queue } from '../queue/index.ts';

/** Where the notice of a held recipient stands, read from the notice's own queue entry. */
export interface NoticeState {
  id: string;
  /** `queued`, `leased`, `delivered`, `failed`, or `gone` (deleted from the queue). */
  state: string;
  attempts: number;
  nextAttemptAt?: number;
  lastReply: string | null;
  /** The receipt of its last attempt (how and where it went). */
  last?: DeliveryReceipt;
}

/** The notices named by held recipients of these messages (`queue list`/`show`), by notice queue id. */
export async function noticeStates(queue: Pick<Queue, 'show'>, messages: Pick<MessageSummary, 'recipients'>[]): Promise<Map<string, NoticeState>> {
  const states = new Map<string, NoticeState>();
  for (const message of messages) {
    for (const recipient of message.recipients) {
      const id = parseHeldReply(recipient.lastReply)?.noticeQueueId;
      if (!id || states.has(id)) continue;
      const notice = await queue.show(id);
      const row = notice?.recipients[0];
      states.set(id, row
        ? { id, state: row.state, attempts: row.attempts, nextAttemptAt: row.state === 'queued' ? row.nextAttemptAt : undefined, lastReply: row.lastReply, last: notice.receipts.at(-1) }
        : { id, state: 'gone', attempts: 0, lastReply: null });
    }
  }
  return states;
}
