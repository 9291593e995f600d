/**
 * Retention (issue 13): the record a withdrawn pickup leaves (recipient, sealed subject and
 * file names whose key is destroyed, the access log) deleted once `pickup` retention has passed
 * since it ended. Its content was crypto-shredded when it was retracted or expired; this
 * removes the metadata too.
 */
import { sql } from 'kysely';
import type { Store } from '../store/index.ts';

const BATCH = 200;

/** Deletes withdrawn pickups whose last event (the withdrawal) is older than `before`; returns how many. */
export async function purgeWithdrawn(store: Store, before: number, onPurged?: (ids: string[]) => Promise<unknown>): Promise<number> {
  let purged = 0;
  for (;;) {
    const rows = await store.db
      .selectFrom('pickup_messages as m')
      .select('m.id')
      .where('m.state', 'in', ['retracted', 'expired', 'deleted'])
      .where('m.created_at', '<', before)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('pickup_events as e').select(sql`1`.as('one')).whereRef('e.message_id', '=', 'm.id').where('e.at', '>=', before))))
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    const ids = rows.map((r) => r.id);
    await store.db.transaction().execute(async (trx) => {
      for (const table of ['pickup_events', 'pickup_parts', 'pickup_chunks', 'pickup_code_issues', 'pickup_bindings'] as const) {
        await trx.deleteFrom(table).where('message_id', 'in', ids).execute();
      }
      await trx.deleteFrom('pickup_replies').where((eb) => eb.or([eb('message_id', 'in', ids), eb('reply_id', 'in', ids)])).execute();
      await trx.deleteFrom('pickup_messages').where('id', 'in', ids).execute();
    });
    purged += ids.length;
    await onPurged?.(ids);
  }
  if (purged) store.scrub?.();
  return purged;
}
