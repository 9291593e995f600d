import { mkdirSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect, type DatabaseConnection, type Driver } from 'kysely';
import type { Database, Store } from '../schema.ts';
import { migrateToLatest } from '../migrate.ts';
import { WalSync } from './wal-sync.ts';

/**
 * The embedded default: one file, WAL, every write on disk before its promise resolves (the
 * WAL's fdatasync runs off the event loop and is shared by the commits around it: wal-sync.ts).
 */
export async function openSqliteStore(file: string): Promise<Store> {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const database = new BetterSqlite3(file);
  database.pragma('journal_mode = WAL');
  // NORMAL leaves the commit's sync to WalSync, which a 250 waits for; an in-memory database
  // has nothing to sync.
  const walSync = file === ':memory:' ? undefined : new WalSync(file);
  database.pragma(walSync ? 'synchronous = NORMAL' : 'synchronous = FULL');
  database.pragma('foreign_keys = ON');
  database.pragma(`busy_timeout = ${WAIT_FOR_LOCK_MS}`);
  // Deleted rows and replaced values are overwritten with zeros, not left in free space for a
  // copy of the file to read (issue 9 item 8); the WAL's old frames go at the next checkpoint.
  database.pragma('secure_delete = ON');
  cachePreparedStatements(database);
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database }, walSync) });
  const scrubber = walScrubber(database);
  const store: Store = {
    db,
    capabilities: { dialect: 'sqlite', skipLocked: false, bodiesInDatabase: false, serialType: 'integer' },
    scrub: scrubber.schedule,
    close: async () => {
      scrubber.stop();
      await db.destroy();
      await walSync?.close();
    },
  };
  await migrateSerialised(database, store);
  await walSync?.durable();
  // From here the write lock is waited for off the event loop (ImmediateSqliteDialect).
  if (database.open) database.pragma('busy_timeout = 0');
  return store;
}

/**
 * Every transaction here writes, and the store's shared one (shared-commit.ts) may start with
 * a read (the audit chain's head). A deferred BEGIN takes its snapshot at that read; if
 * another connection (the delivery thread, a CLI command) commits before the first write,
 * the write fails with SQLITE_BUSY_SNAPSHOT, which no busy timeout cures. BEGIN IMMEDIATE
 * takes the write lock first, so the other writer waits its busy timeout instead.
 *
 * A COMMIT, and a write outside any transaction, resolve only once WalSync has it on disk.
 *
 * The write lock is waited for here, not by SQLite's busy handler: that one sleeps in the
 * calling thread (1, 2, 5, 10 … ms), so every collision with another writer (the delivery
 * thread, a listener worker, a CLI command) stalled this event loop. A statement outside a
 * transaction that finds the lock taken fails at once with SQLITE_BUSY having done nothing,
 * and is tried again after the loop has run other work, for up to WAIT_FOR_LOCK_MS.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  private readonly database: BetterSqlite3.Database;
  private readonly walSync: WalSync | undefined;

  constructor(config: { database: BetterSqlite3.Database }, walSync: WalSync | undefined) {
    super(config);
    this.database = config.database;
    this.walSync = walSync;
  }

  override createDriver(): Driver {
    const driver = super.createDriver();
    const { database, walSync } = this;
    const lock: LockWait = { busySince: undefined, lastBusy: 0 };
    driver.beginTransaction = async (connection: DatabaseConnection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    const commit = driver.commitTransaction.bind(driver);
    driver.commitTransaction = async (connection: DatabaseConnection) => {
      await commit(connection);
      await walSync?.durable();
    };
    const acquire = driver.acquireConnection.bind(driver);
    driver.acquireConnection = async () => {
      const connection = await acquire();
      return {
        executeQuery: async <R>(query: CompiledQuery, options?: Parameters<DatabaseConnection['executeQuery']>[1]) => {
          if (database.inTransaction) return connection.executeQuery<R>(query, options);
          // A write, or BEGIN IMMEDIATE (not readonly either), takes the lock: its success shows
          // the lock is free again (prepare() is cached by SQL).
          const takesLock = !database.prepare(query.sql).readonly;
          const result = await retryWhileLocked(() => connection.executeQuery<R>(query, options), lock, takesLock);
          // Autocommit: the write was its own transaction (after BEGIN we are in one).
          if (walSync && takesLock && !database.inTransaction) await walSync.durable();
          return result;
        },
        streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
      } satisfies DatabaseConnection;
    };
    return driver;
  }
}

/** How long a writer waits for another connection's write lock before it fails (SQLITE_BUSY). */
const WAIT_FOR_LOCK_MS = 5000;

/**
 * Since when this connection has found the write lock taken without getting it once. The wait
 * is bounded from then, not per statement: statements queue for the one connection, and each
 * waiting its own 5 s in turn kept an end of DATA waiting as long as another process held the
 * lock (25 s for 25 s, test/attacks/i14-31) instead of answering 4xx after 5 s.
 */
interface LockWait {
  busySince: number | undefined;
  /** The last SQLITE_BUSY: a wait is one only while someone keeps finding the lock taken. */
  lastBusy: number;
}

/** No SQLITE_BUSY for this long: the next one starts a new wait (waiters retry every ≤ 10 ms). */
const WAIT_GAP_MS = 1000;

async function retryWhileLocked<T>(attempt: () => Promise<T>, lock: LockWait, takesLock: boolean): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      const result = await attempt();
      if (takesLock || tries > 0) lock.busySince = undefined;
      return result;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
      const now = Date.now();
      if (lock.busySince === undefined || now - lock.lastBusy > WAIT_GAP_MS) lock.busySince = now;
      lock.lastBusy = now;
      if (now - lock.busySince > WAIT_FOR_LOCK_MS) throw error;
      // A few turns of the loop first (a commit elsewhere takes microseconds), then short sleeps.
      await (tries < 8 ? new Promise((resolve) => setImmediate(resolve)) : delay(Math.min(tries - 7, 10)));
    }
  }
}

/**
 * Kysely runs SQLite migrations outside any transaction and its migration lock is a no-op
 * within one process: two processes opening a new database at once (`serve` and a CLI
 * command) both ran 0001 and one failed with "table already exists". One IMMEDIATE
 * transaction around the whole run takes SQLite's write lock first, so the second process
 * waits, then finds every migration done; a failed migration also leaves nothing half-made.
 */
async function migrateSerialised(database: BetterSqlite3.Database, store: Store): Promise<void> {
  if (!database.open) return;
  database.pragma('busy_timeout = 60000');
  try {
    database.exec('BEGIN IMMEDIATE');
    try {
      await migrateToLatest(store);
      database.exec('COMMIT');
    } catch (error) {
      if (database.inTransaction) database.exec('ROLLBACK');
      throw error;
    }
  } finally {
    database.pragma(`busy_timeout = ${WAIT_FOR_LOCK_MS}`);
  }
}

/** How long deletions may gather before one checkpoint writes them all out. */
const SCRUB_DELAY_MS = 200;

/**
 * The WAL keeps every page image a transaction wrote, deleted secrets included, until a
 * checkpoint restarts it; TRUNCATE also empties the file, so a copy taken after it holds no
 * old frames. Deletions come in bursts: one checkpoint shortly after, not one per delete. A
 * reader in another connection (the delivery thread) can hold the checkpoint back: it waits
 * only briefly and tries again later, since blocking here would stall this thread.
 */
function walScrubber(database: BetterSqlite3.Database): { schedule: () => void; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    timer = undefined;
    if (!database.open) return;
    try {
      database.pragma('busy_timeout = 100');
      const [result] = database.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      if (result?.busy) schedule();
    } catch {
      schedule(); // SQLITE_BUSY or locked: later
    } finally {
      if (database.open) database.pragma('busy_timeout = 0');
    }
  };
  const schedule = () => {
    if (timer || !database.open) return;
    timer = setTimeout(run, SCRUB_DELAY_MS);
    timer.unref();
  };
  return { schedule, stop: () => clearTimeout(timer) };
}

/**
 * Kysely prepares every query anew; preparing costs more than running our small queries.
 * Statements are reused by SQL text (we never iterate two results of one statement at once).
 */
function cachePreparedStatements(database: BetterSqlite3.Database): void {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepare = database.prepare.bind(database);
  database.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      if (cache.size > 1000) cache.clear();
      statement = prepare(source);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof database.prepare;
}
