import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Migrator } from 'kysely/migration';
import { afterEach, describe, expect, it } from 'vitest';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database, StoreCapabilities } from '../schema.ts';
import { migrationProvider } from './index.ts';

describe('migration 0026-accounts', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('makes every user that existed before it a sender, so nobody stops sending on upgrade', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sealgate-mig-'));
    // A bare database (the store's own open would migrate it to the end at once).
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(path.join(dir, 'db.sqlite')) }) });
    const capabilities: StoreCapabilities = { dialect: 'sqlite', skipLocked: false, bodiesInDatabase: false, serialType: 'integer' };
    try {
      const migrator = new Migrator({ db, provider: migrationProvider(capabilities) });
      expect((await migrator.migrateTo('0025-audit')).error).toBeUndefined();
      await db.insertInto('users').values({ username: 'old@example.test', password_hash: 'x', created_at: 5, disabled: 0, pickup_always: 0 } as never).execute();
      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      expect(await db.selectFrom('user_roles').selectAll().execute()).toEqual([{ username: 'old@example.test', role: 'sender', granted_at: 5 }]);
    } finally {
      await db.destroy();
    }
  });
});
