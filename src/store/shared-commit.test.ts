import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { openSqliteStore } from './sqlite/index.ts';
import { SharedCommit, sharedCommit } from './shared-commit.ts';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`SharedCommit on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    const pin = (domain: string) => ({ domain, min_level: 'tls', note: null, created_at: 1 });

    it.skipIf(!available)('runs the works of one turn in one transaction, each caller resolved with its own result after the commit', async () => {
      current = await openTestStore(dialect);
      const store = current.store;
      let transactions = 0;
      const counted = new Proxy(store.db, {
        get(target, prop) {
          if (prop === 'startTransaction') return () => (transactions++, target.startTransaction());
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const commit = new SharedCommit({ db: counted });
      const results = await Promise.all(['a.test', 'b.test', 'c.test'].map((domain) =>
        commit.run(async (trx) => {
          // Each sees the rows of the works before it in the same transaction.
          const seen = await trx.selectFrom('link_pins').select('domain').execute();
          await trx.insertInto('link_pins').values(pin(domain)).execute();
          return seen.length;
        }),
      ));
      expect(results).toEqual([0, 1, 2]);
      expect(transactions).toBe(1);
      // Submitted while nothing is open: the next turn's transaction.
      await commit.run((trx) => trx.insertInto('link_pins').values(pin('d.test')).execute());
      expect(transactions).toBe(2);
      expect((await store.db.selectFrom('link_pins').select('domain').orderBy('domain').execute()).map((r) => r.domain)).toEqual(['a.test', 'b.test', 'c.test', 'd.test']);
      // The store's own instance is one per database handle.
      expect(sharedCommit(store)).toBe(sharedCommit(store));
    });

    it.skipIf(!available)('a work that throws is rolled back alone and rejects only its caller; the others commit', async () => {
      current = await openTestStore(dialect);
      const store = current.store;
      const commit = new SharedCommit(store);
      const outcomes = await Promise.allSettled([
        commit.run((trx) => trx.insertInto('link_pins').values(pin('kept-one.test')).execute()),
        commit.run(async (trx) => {
          await trx.insertInto('link_pins').values(pin('undone.test')).execute();
          // A primary-key violation: on PostgreSQL this aborts the transaction unless rolled back to the savepoint.
          await trx.insertInto('link_pins').values(pin('kept-one.test')).execute();
        }),
        commit.run((trx) => trx.insertInto('link_pins').values(pin('kept-two.test')).execute()),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((await store.db.selectFrom('link_pins').select('domain').orderBy('domain').execute()).map((r) => r.domain)).toEqual(['kept-one.test', 'kept-two.test']);
    });

    it.skipIf(!available)('a lone work that throws rolls its transaction back, and the next turn commits', async () => {
      current = await openTestStore(dialect);
      const store = current.store;
      const commit = new SharedCommit(store);
      await expect(commit.run(async (trx) => {
        await trx.insertInto('link_pins').values(pin('undone.test')).execute();
        throw new Error('disk full');
      })).rejects.toThrow('disk full');
      await commit.run((trx) => trx.insertInto('link_pins').values(pin('later.test')).execute());
      expect((await store.db.selectFrom('link_pins').select('domain').execute()).map((r) => r.domain)).toEqual(['later.test']);
    });
  });
}

describe('SharedCommit on a SQLite file', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('holds the write lock from its start: a work that reads first still writes after another connection tried to', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-shared-commit-'));
    const file = path.join(dir, 'queue.db');
    const store = await openSqliteStore(file);
    const other = new BetterSqlite3(file, { timeout: 0 });
    try {
      const commit = new SharedCommit(store);
      let otherRefused: string | undefined;
      await commit.run(async (trx) => {
        await trx.selectFrom('link_pins').select('domain').execute();
        // With a deferred BEGIN this write would go through and ours below fail with SQLITE_BUSY_SNAPSHOT.
        try {
          other.prepare("insert into link_pins (domain, min_level, note, created_at) values ('other.test', 'tls', null, 1)").run();
        } catch (error) {
          otherRefused = (error as { code?: string }).code;
        }
        await trx.insertInto('link_pins').values({ domain: 'ours.test', min_level: 'tls', note: null, created_at: 1 }).execute();
      });
      expect(otherRefused).toBe('SQLITE_BUSY');
      expect((await store.db.selectFrom('link_pins').select('domain').execute()).map((r) => r.domain)).toEqual(['ours.test']);
    } finally {
      other.close();
      await store.close();
    }
  });

  it('a batch whose works all succeed takes no savepoint; one with a failure runs again, each work in a savepoint', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-shared-commit-'));
    // The store binds prepare when it opens: spied on before, it sees every statement's SQL.
    const prepared = vi.spyOn(BetterSqlite3.prototype, 'prepare');
    const store = await openSqliteStore(path.join(dir, 'queue.db'));
    try {
      const savepoints = () => prepared.mock.calls.filter(([source]) => /savepoint/i.test(source)).length;
      const commit = new SharedCommit(store);
      const insert = (domain: string) => commit.run((trx) => trx.insertInto('link_pins').values({ domain, min_level: 'tls', note: null, created_at: 1 }).execute());
      await Promise.all([insert('a.test'), insert('b.test'), insert('c.test')]);
      expect(savepoints(), 'no savepoint when nothing fails').toBe(0);
      let runs = 0;
      const outcomes = await Promise.allSettled([
        commit.run(async (trx) => (runs++, trx.insertInto('link_pins').values({ domain: 'd.test', min_level: 'tls', note: null, created_at: 1 }).execute())),
        insert('a.test'),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
      expect(runs, 'run again after the other work failed').toBe(2);
      expect(savepoints()).toBeGreaterThan(0);
      expect((await store.db.selectFrom('link_pins').select('domain').orderBy('domain').execute()).map((r) => r.domain)).toEqual(['a.test', 'b.test', 'c.test', 'd.test']);
    } finally {
      prepared.mockRestore();
      await store.close();
    }
  });
});
