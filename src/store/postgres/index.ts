import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database, Store } from '../schema.ts';
import { migrateToLatest } from '../migrate.ts';

// Times are epoch ms in BIGINT columns; they fit a JS number, so read int8 as number.
pg.types.setTypeParser(20, (value: string) => Number(value));

export interface PostgresOptions {
  /** Run inside this schema (created if missing): tests use one fresh schema each. */
  schema?: string;
  maxConnections?: number;
}

/** The cluster backend: any number of nodes share it; leases use SKIP LOCKED. */
export async function openPostgresStore(url: string, options: PostgresOptions = {}): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    options: options.schema ? `-c search_path=${options.schema}` : undefined,
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  if (options.schema) await sql`create schema if not exists ${sql.id(options.schema)}`.execute(db);
  const store: Store = {
    db,
    capabilities: { dialect: 'postgres', skipLocked: true, bodiesInDatabase: true, serialType: 'serial' },
    close: () => db.destroy(),
  };
  await migrateToLatest(store, options.schema);
  return store;
}
