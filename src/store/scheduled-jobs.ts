/**
 * Jobs that run once per interval across a cluster (retention purge, TLS-RPT): a node claims
 * the job's row with one conditional update, so of all the nodes due at the same moment one
 * wins. A row rather than a PostgreSQL advisory lock: it works on SQLite alike, and an
 * advisory lock belongs to one pooled connection, which the next query may not use.
 */
import type { Store } from './schema.ts';

/** True when `owner` may run `name` now (its interval has passed since the last run began). */
export async function claimScheduledJob(store: Store, name: string, owner: string, intervalMs: number, now: number): Promise<boolean> {
  await store.db.insertInto('scheduled_jobs').values({ name, last_started_at: 0, owner: null }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const claimed = await store.db
    .updateTable('scheduled_jobs')
    .set({ last_started_at: now, owner })
    .where('name', '=', name)
    .where('last_started_at', '<=', now - intervalMs)
    .executeTakeFirst();
  return Number(claimed.numUpdatedRows) === 1;
}

/** When each job last started, and on which node. */
export async function scheduledJobs(store: Store): Promise<{ name: string; lastStartedAt: number; owner: string | null }[]> {
  const rows = await store.db.selectFrom('scheduled_jobs').selectAll().orderBy('name').execute();
  return rows.map((r) => ({ name: r.name, lastStartedAt: Number(r.last_started_at), owner: r.owner }));
}
