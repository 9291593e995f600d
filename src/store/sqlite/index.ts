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
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  const store: Store = {
    db,
    capabilities: { dialect: 'sqlite', skipLocked: false, serialType: 'integer' },
    close: () => db.destroy(),
  };
  await migrateToLatest(store);
  return store;
}
