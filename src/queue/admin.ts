/** What an admin changes: make mail due now, remove a message. */
import { shred } from './bodies.ts';
import { dbNow, type QueueContext } from './context.ts';

/** Makes queued recipients due now (admin "retry"). */
export async function retryNow(ctx: QueueContext, messageId: string): Promise<number> {
  const result = await ctx.store.db
    .updateTable('recipients')
    .set({ next_attempt_at: dbNow(ctx) })
    .where('message_id', '=', messageId)
    // A recipient under a lease is being tried right now: breaking its lease would send twice.
    .where('state', '=', 'queued')
    // Held mail waits for `queue release`.
    .where('held_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function remove(ctx: QueueContext, messageId: string): Promise<boolean> {
  const result = await ctx.store.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('receipts').where('message_id', '=', messageId).execute();
    await trx.deleteFrom('recipients').where('message_id', '=', messageId).execute();
    return trx.deleteFrom('messages').where('id', '=', messageId).executeTakeFirst();
  });
  await ctx.blobs.remove(messageId).catch(() => undefined);
  await shred(ctx, messageId);
  return Number(result.numDeletedRows) > 0;
}
