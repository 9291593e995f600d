import { CompiledQuery, type Transaction } from 'kysely';
import type { Database, Store } from './schema.ts';

/**
 * One transaction per turn of the event loop for every writer of a store that joins it
 * (issue 14). The intake's inserts and the delivery's settlements each had a group commit of
 * their own: 1.57 commits per relayed message, each (on SQLite, synchronously) a round of
 * statements and a sync of the WAL. Work submitted in the same turn, or while a
 * transaction is open, now shares one commit. Each caller still resolves only after its own
 * work is committed; a work that throws is rolled back and only its caller is rejected, so
 * one writer's failure does not fail another's. For that a batch with a failure runs again,
 * each work in a savepoint: a work may run twice, so it touches nothing but its transaction.
 */
export class SharedCommit {
  private queue: Item[] = [];
  private running = false;
  private readonly store: Pick<Store, 'db'>;
  private readonly maxBatch: number;

  constructor(store: Pick<Store, 'db'>, maxBatch = 256) {
    this.store = store;
    this.maxBatch = maxBatch;
  }

  /**
   * Runs `work` in the next shared transaction; resolves with its result once that commits.
   * It may run twice (another work of its batch threw): nothing but `trx` may see it run.
   */
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
      let outcomes: Outcome[];
      try {
        // A work threw, and nothing of the batch was kept (null): again, each work in a
        // savepoint, so only the failing caller is rejected.
        outcomes = (await this.runBatch(batch, false)) ?? (await this.runBatch(batch, true))!;
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

  /**
   * One transaction over `batch`. Not `isolated`: no savepoints (a savepoint and its release
   * were 5 of ~16 statements per relayed message, issue 14), and null once a work throws,
   * after the rollback; a lone work's failure is its own outcome. Isolated: each work in a
   * savepoint, its statements compiled once, not built through Kysely per work.
   */
  private async runBatch(batch: Item[], isolated: boolean): Promise<Outcome[] | null> {
    const trx = await this.store.db.startTransaction().execute();
    try {
      const outcomes: Outcome[] = [];
      for (const [i, item] of batch.entries()) {
        if (!isolated) {
          try {
            outcomes.push({ ok: true, value: await item.work(trx) });
          } catch (error) {
            await trx.rollback().execute().catch(() => undefined);
            return batch.length === 1 ? [{ ok: false, error }] : null;
          }
          continue;
        }
        const point = savepoint(i);
        await trx.executeQuery(point.set);
        try {
          const value = await item.work(trx);
          await trx.executeQuery(point.release);
          outcomes.push({ ok: true, value });
        } catch (error) {
          await trx.executeQuery(point.rollback);
          outcomes.push({ ok: false, error });
        }
      }
      await trx.commit().execute();
      return outcomes;
    } catch (error) {
      await trx.rollback().execute().catch(() => undefined);
      throw error;
    }
  }
}

type Item = { work: (trx: Transaction<Database>) => Promise<unknown>; resolve: (r: unknown) => void; reject: (e: unknown) => void };
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

const savepoints: { set: CompiledQuery; release: CompiledQuery; rollback: CompiledQuery }[] = [];
const savepoint = (i: number) =>
  (savepoints[i] ??= {
    set: CompiledQuery.raw(`savepoint sg_work_${i}`),
    release: CompiledQuery.raw(`release savepoint sg_work_${i}`),
    rollback: CompiledQuery.raw(`rollback to savepoint sg_work_${i}`),
  });

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
