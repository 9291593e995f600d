import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database, Store } from '../schema.ts';
import { migrateToLatest } from '../migrate.ts';

/** The embedded default: one file, WAL, fsync on every commit (synchronous=FULL). */
export async function openSqliteStore(file: string): Promise<Store> {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const database = new BetterSqlite3(file);
  database.pragma('journal_mode = WAL');
  // FULL, not NORMAL: a 250 is sent after commit, so the commit must survive power loss.
  database.pragma('synchronous = FULL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  cachePreparedStatements(database);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  const store: Store = {
    db,
    capabilities: { dialect: 'sqlite', skipLocked: false, bodiesInDatabase: false, serialType: 'integer' },
    close: () => db.destroy(),
  };
  await migrateToLatest(store);
  return store;
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
