/**
 * Retention (issue 13): what a finished message leaves in the queue's tables (envelope,
 * recipients, replies) and the delivery receipts, deleted once their period has passed.
 * Bodies and body keys are gone already (shredded when the message finished); this removes
 * the record of who wrote to whom.
 */
import { shred } from './bodies.ts';
import { fromLocal, type QueueContext } from './context.ts';

const BATCH = 500;

/** Deletes messages finished before `before` (ms) with their recipient rows; returns how many. */
/** `onPurged` hears each batch's ids once they are gone (the audit's `message.purged`). */
export async function purgeFinished(ctx: QueueContext, before: number, onPurged?: (ids: string[]) => Promise<unknown>): Promise<number> {
  let purged = 0;
  for (;;) {
    // done_at is on the database's clock in a cluster: the cutoff is moved onto it.
    const rows = await ctx.store.db.selectFrom('messages').select('id').where('done_at', 'is not', null).where('done_at', '<', fromLocal(ctx, before)).limit(BATCH).execute();
    if (rows.length === 0) break;
    const ids = rows.map((r) => r.id);
    await ctx.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('recipients').where('message_id', 'in', ids).execute();
      await trx.deleteFrom('messages').where('id', 'in', ids).execute();
    });
    // A crash between finishing and reaping can leave a key or a file: none may outlive the row.
    for (const id of ids) {
      await shred(ctx, id);
      await ctx.blobs.remove(id).catch(() => undefined);
    }
    purged += ids.length;
    await onPurged?.(ids);
  }
  if (purged) ctx.store.scrub?.();
  return purged;
}

/** Deletes delivery receipts older than `before` (ms); returns how many. */
export async function purgeReceipts(ctx: QueueContext, before: number): Promise<number> {
  const result = await ctx.store.db.deleteFrom('receipts').where('at', '<', before).executeTakeFirst();
  const removed = Number(result.numDeletedRows);
  if (removed) ctx.store.scrub?.();
  return removed;
}
