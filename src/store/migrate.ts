import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { migrationProvider } from './migrations/index.ts';
import type { Store } from './schema.ts';

const MIGRATION_TABLE = 'kysely_migration';

export interface MigrationOutcome {
  /** Migrations a newer release already ran that this release does not know (rolling upgrade). */
  newer: string[];
}

/**
 * `schema`: PostgreSQL schema the tables live in. Kysely otherwise looks for its lock table
 * in every schema, finds another one's, and never creates its own.
 *
 * Rolling upgrades (README "Cluster"): migrations only add (tables, nullable columns,
 * indexes), so a node of the previous release can run on a schema a newer node migrated.
 * Kysely refuses to start when the database holds a migration it does not know ("previously
 * executed migration … is missing"); when every migration of ours has run and the unknown
 * ones all sort after ours, the database is simply ahead of us, and we start without
 * migrating. Anything else (a migration of ours missing between foreign ones) still fails.
 */
export async function migrateToLatest(store: Store, schema?: string): Promise<MigrationOutcome> {
  const provider = migrationProvider(store.capabilities);
  const ours = Object.keys(await provider.getMigrations()).sort();
  const executed = await executedMigrations(store, schema);
  const unknown = executed.filter((name) => !ours.includes(name)).sort();
  if (unknown.length && ours.every((name) => executed.includes(name)) && unknown[0]! > ours.at(-1)!) return { newer: unknown };
  const migrator = new Migrator({ db: store.db, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (!error && !failed) return { newer: [] };
    // Kysely's introspection reads every schema of the database; one that another tenant
    // drops meanwhile fails it ("schema … does not exist"). The migration ran in a rolled
    // back transaction (PostgreSQL DDL is transactional), so trying again is safe.
    if (attempt < 4 && /does not exist/.test((error as Error)?.message ?? '')) {
      await new Promise((r) => setTimeout(r, 100 * attempt));
      continue;
    }
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error)?.message ?? 'unknown error'}`, { cause: error });
  }
}

async function executedMigrations(store: Store, schema?: string): Promise<string[]> {
  const table = schema ? sql.table(`${schema}.${MIGRATION_TABLE}`) : sql.table(MIGRATION_TABLE);
  try {
    const { rows } = await sql<{ name: string }>`select name from ${table}`.execute(store.db);
    return rows.map((r) => r.name);
  } catch (error) {
    // A fresh database has no migration table yet (introspection would list other schemas'
    // tables on PostgreSQL, so ask the table itself).
    if (/does not exist|no such table/i.test((error as Error).message)) return [];
    throw error;
  }
}
