/** Removing what a finished message or a crash left at rest: bodies, body files, keys. */
import { shred } from './bodies.ts';
import type { QueueContext } from './context.ts';

/** A key without a message row is an upload in progress until it is this old (store's clock). */
const STRAY_KEY_AGE_MS = 3_600_000;

/** Deletes the body of a finished message: nothing of it stays at rest longer than needed. */
export async function reap(ctx: QueueContext, messageId: string): Promise<void> {
  await shred(ctx, messageId);
  await ctx.blobs.remove(messageId);
  await ctx.store.db.updateTable('messages').set({ blob: null, body: null }).where('id', '=', messageId).execute();
}

/** Bodies of messages finished before a crash, whose reap never ran. */
export async function reapFinished(ctx: QueueContext): Promise<number> {
  const rows = await ctx.store.db.selectFrom('messages').select('id').where('done_at', 'is not', null).where((eb) => eb.or([eb('blob', 'is not', null), eb('body', 'is not', null)])).execute();
  for (const row of rows) await reap(ctx, row.id);
  await sweepStrayKeys(ctx);
  return rows.length;
}

/**
 * Keys a crash left behind: of finished messages, or (after an hour) of an enqueue that
 * never committed. Runs at start and with the periodic orphan sweep. The key is written when
 * the upload starts, before its row exists, so a key without a row may be an upload in
 * progress on another node: its age is judged on the key store's clock (the database's on
 * PostgreSQL), and an hour leaves room for the slowest upload smtp-server lets through.
 */
export async function sweepStrayKeys(ctx: QueueContext): Promise<number> {
  const ids = await ctx.keys.idsOlderThan(0);
  const old = new Set(await ctx.keys.idsOlderThan(STRAY_KEY_AGE_MS));
  let removed = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const batch = ids.slice(i, i + 500);
    const rows = await ctx.store.db.selectFrom('messages').select(['id', 'done_at']).where('id', 'in', batch).execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of batch) {
      const row = byId.get(id);
      if (row ? row.done_at === null : !old.has(id)) continue;
      await ctx.keys.destroy(id);
      removed++;
    }
  }
  if (removed) ctx.store.scrub?.();
  return removed;
}
