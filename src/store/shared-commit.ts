import type { Transaction } from 'kysely';
import type { Database, Store } from './schema.ts';

/**
 * One transaction per turn of the event loop for every writer of a store that joins it
 * (issue 14). The intake's inserts and the delivery's settlements each had a group commit of
 * their own: 1.57 commits per relayed message, each (on SQLite, synchronously) a round of
 * statements and a sync of the WAL. Work submitted in the same turn, or while a
 * transaction is open, now shares one commit. Each caller still resolves only after its own
 * work is committed; a work that throws is rolled back to its savepoint and only its caller
 * is rejected, so one writer's failure does not fail another's.
 */
export class SharedCommit {
  private queue: { work: (trx: Transaction<Database>) => Promise<unknown>; resolve: (r: unknown) => void; reject: (e: unknown) => void }[] = [];
  private running = false;
  private readonly store: Pick<Store, 'db'>;
  private readonly maxBatch: number;

  constructor(store: Pick<Store, 'db'>, maxBatch = 256) {
    this.store = store;
    this.maxBatch = maxBatch;
  }

  /** Runs `work` in the next shared transaction; resolves with its result once that commits. */
  run<R>(work: (trx: Transaction<Database>) => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (r: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
      try {
        const trx = await this.store.db.startTransaction().execute();
        try {
          for (const [i, item] of batch.entries()) {
            // Alone, a work needs no savepoint: its failure rolls the whole transaction back.
            if (batch.length === 1) {
              outcomes.push({ ok: true, value: await item.work(trx) });
              continue;
            }
            const name = `sg_work_${i}`;
            const point = await trx.savepoint(name).execute();
            try {
              const value = await item.work(point);
              await point.releaseSavepoint(name).execute();
              outcomes.push({ ok: true, value });
            } catch (error) {
              await point.rollbackToSavepoint(name).execute();
              outcomes.push({ ok: false, error });
            }
          }
          await trx.commit().execute();
        } catch (error) {
          await trx.rollback().execute().catch(() => undefined);
          throw error;
        }
      } catch (error) {
        // No commit: nobody's work is durable, so every caller of the batch is told.
        batch.forEach((b) => b.reject(error));
        continue;
      }
      batch.forEach((b, i) => {
        const outcome = outcomes[i];
        if (outcome.ok) b.resolve(outcome.value);
        else b.reject(outcome.error);
      });
    }
    this.running = false;
  }
}

const perStore = new WeakMap<object, SharedCommit>();

/** The one SharedCommit of `store` (of its database handle: one per connection). */
export function sharedCommit(store: Pick<Store, 'db'>): SharedCommit {
  let commit = perStore.get(store.db);
  if (!commit) {
    commit = new SharedCommit(store);
    perStore.set(store.db, commit);
  }
  return commit;
}
