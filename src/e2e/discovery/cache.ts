/** Discovery answers kept with an expiry (table e2e_discovery_cache, migration 0026). */
import type { Store } from '../../store/index.ts';

export interface CachedAnswer {
  keys: Uint8Array | null;
  detail: string;
  fetchedAt: number;
}

export class DiscoveryCache {
  private readonly store: Store;
  constructor(store: Store) {
    this.store = store;
  }

  async get(lookup: string, now: number): Promise<CachedAnswer | undefined> {
    const row = await this.store.db.selectFrom('e2e_discovery_cache').selectAll().where('lookup', '=', lookup).where('expires_at', '>', now).executeTakeFirst();
    return row ? { keys: row.result ? new Uint8Array(row.result) : null, detail: row.detail, fetchedAt: Number(row.fetched_at) } : undefined;
  }

  async put(lookup: string, answer: { keys: Uint8Array | null; detail: string }, now: number, ttlMs: number): Promise<void> {
    const row = { result: answer.keys ? new Uint8Array(answer.keys) : null, detail: answer.detail, fetched_at: now, expires_at: now + ttlMs };
    await this.store.db.insertInto('e2e_discovery_cache').values({ lookup, ...row }).onConflict((oc) => oc.column('lookup').doUpdateSet(row)).execute();
  }

  async forget(lookupPrefix: string): Promise<void> {
    await this.store.db.deleteFrom('e2e_discovery_cache').where('lookup', 'like', `${lookupPrefix}%`).execute();
  }
}
