import { Migrator } from 'kysely/migration';
import { migrationProvider } from './migrations/index.ts';
import type { Store } from './schema.ts';

/**
 * `schema`: PostgreSQL schema the tables live in. Kysely otherwise looks for its lock table
 * in every schema, finds another one's, and never creates its own.
 */
export async function migrateToLatest(store: Store, schema?: string): Promise<void> {
  const migrator = new Migrator({ db: store.db, provider: migrationProvider(store.capabilities), ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error)?.message ?? 'unknown error'}`, { cause: error });
  }
}
