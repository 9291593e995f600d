import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from '../../kernel/index.ts';
import type { Database, Store } from '../schema.ts';
import { migrateToLatest } from '../migrate.ts';

// Times are epoch ms in BIGINT columns; they fit a JS number, so read int8 as number.
pg.types.setTypeParser(20, (value: string) => Number(value));

/** Longest a transaction may wait on this node between its statements (see the pool's 'connect'). */
const IDLE_IN_TRANSACTION_MS = 5_000;

export interface PostgresOptions {
  /** Run inside this schema (created if missing): tests use one fresh schema each. */
  schema?: string;
  maxConnections?: number;
  /**
   * `application_name` of every connection (pg_stat_activity), e.g. the node id, so an
   * operator sees which node holds what. A URL that sets application_name wins.
   */
  applicationName?: string;
  /** Runs after connecting, before any migration: a node that must not start changes nothing. */
  beforeMigrate?: (store: Store) => Promise<void>;
  /** Told about lost connections (the query in flight fails to its own caller) and a newer schema. */
  logger?: Logger;
}

/**
 * The cluster backend: any number of nodes share it; leases use SKIP LOCKED.
 *
 * A database restart or fail-over ends every connection (pg_terminate_backend does the
 * same). pg reports that as an 'error' event on the pool (idle clients) or on the client
 * (checked-out ones); an 'error' event without a listener kills the process, so both get
 * one. The query in flight fails and its caller decides (ingress answers 451 4.3.0, the
 * worker retries its settle, loops log and go on); the pool drops the dead client and
 * opens a new connection for the next query, so the node recovers without a restart.
 */
export async function openPostgresStore(url: string, options: PostgresOptions = {}): Promise<Store> {
  const onError = (error: Error) => options.logger?.warn({ err: error.message }, 'database connection lost; the pool opens a new one');
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    options: options.schema ? `-c search_path=${options.schema}` : undefined,
    application_name: options.applicationName,
    // A dead database must not hold a caller (an SMTP client waiting for 250) for long.
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', (error) => onError(error));
  pool.on('connect', (client) => {
    client.on('error', (error) => onError(error));
    // A node paused inside a transaction (SIGSTOP, a hung VM) keeps its connection up and its
    // rows locked; other nodes' leases skip locked rows, so its expired leases would never be
    // taken over. No transaction of ours waits on its client for more than moments: the
    // server ends one left idle this long, and the lease rules apply again. (Set per
    // connection: a URL's `options` would override a pool option.)
    client.query(`set idle_in_transaction_session_timeout = ${IDLE_IN_TRANSACTION_MS}`).catch((error: Error) => onError(error));
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  if (options.schema) await sql`create schema if not exists ${sql.id(options.schema)}`.execute(db);
  const store: Store = {
    db,
    capabilities: { dialect: 'postgres', skipLocked: true, bodiesInDatabase: true, serialType: 'serial', databaseClock: true },
    close: () => db.destroy(),
  };
  try {
    await options.beforeMigrate?.(store);
    // Kysely finds its lock table in any schema of the database (another cluster's, a test's)
    // unless told which one: name ours, the first of the search path (the URL may set it).
    const schema = options.schema ?? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema;
    const { newer } = await migrateToLatest(store, schema);
    if (newer.length) options.logger?.warn({ newer }, 'the database schema is newer than this release (rolling upgrade); running without migrating');
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw error;
  }
  return store;
}
