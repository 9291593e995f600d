import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/index.ts';

export const POSTGRES_URL = process.env.SEALGATE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

let postgresAvailable: Promise<boolean> | undefined;

/** True when the CI PostgreSQL answers; suites that need it skip (and say so) otherwise. */
export function hasPostgres(): Promise<boolean> {
  postgresAvailable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch (error) {
      console.warn(`PostgreSQL at ${POSTGRES_URL} unavailable (${(error as Error).message}); postgres store tests skip`);
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return postgresAvailable;
}

async function adminQuery(text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

export interface TestSchema {
  name: string;
  /** A store URL whose connections use only this schema (for a gateway process's config). */
  url: string;
  query(text: string): Promise<pg.QueryResult>;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL schema, so tests never see each other's tables. */
export async function createTestSchema(prefix = 't'): Promise<TestSchema> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create schema ${name}`);
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${name}`);
  return {
    name,
    url: url.toString(),
    query: adminQuery,
    drop: async () => {
      await adminQuery(`drop schema if exists ${name} cascade`);
    },
  };
}

export interface TestStore {
  store: Store;
  dir: string;
  cleanup(): Promise<void>;
}

/** A fresh store per test: a new SQLite file, or a new PostgreSQL schema dropped afterwards. */
export async function openTestStore(dialect: 'sqlite' | 'postgres'): Promise<TestStore> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-store-'));
  if (dialect === 'sqlite') {
    const store = await openSqliteStore(path.join(dir, 'test.db'));
    return { store, dir, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
  }
  const schema = await createTestSchema();
  const store = await openPostgresStore(POSTGRES_URL, { schema: schema.name, maxConnections: 4 });
  return {
    store,
    dir,
    cleanup: async () => {
      await store.close();
      await schema.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
