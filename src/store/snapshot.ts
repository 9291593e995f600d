/**
 * A consistent copy of the database while the gateway runs (issue 13 "Backup"): SQLite's online
 * backup API (pages copied under a read transaction, WAL included), or `pg_dump` of the schema the
 * store URL names; and the way back (`pg_restore` into an empty schema).
 */
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';

const run = promisify(execFile);

export async function snapshotSqlite(dbFile: string, target: string): Promise<void> {
  const db = new BetterSqlite3(dbFile, { readonly: true, fileMustExist: true });
  try {
    await db.backup(target);
  } finally {
    db.close();
  }
}

/** The schema a store URL's `options=-c search_path=…` names, else `public`. */
export function schemaOf(url: string): string {
  const options = new URL(url).searchParams.get('options') ?? '';
  return /search_path=([A-Za-z_][A-Za-z0-9_]*)/.exec(options)?.[1] ?? 'public';
}

/**
 * The URL as libpq reads it: WHATWG URLs write a space in the query as `+`, which node-postgres
 * takes for a space and libpq does not (`-c+search_path`).
 */
function libpqUrl(url: string): string {
  const parsed = new URL(url);
  const query = [...parsed.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  parsed.search = '';
  return query ? `${parsed.toString()}?${query}` : parsed.toString();
}

/** pg_dump is asked for our schema only, in its custom format. */
export async function dumpPostgres(url: string, target: string): Promise<void> {
  try {
    await run('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--schema=${schemaOf(url)}`, `--file=${target}`, `--dbname=${libpqUrl(url)}`], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('pg_dump is not installed (Debian: postgresql-client); it makes the PostgreSQL part of a backup');
    throw new Error(`pg_dump failed: ${(e.stderr ?? String(error)).trim().split('\n').at(-1)}`);
  }
}

/**
 * Restores a dump into the database `url` names. The schema may exist already (empty, as
 * `public` always does): its CREATE SCHEMA entry is then left out of the restore list.
 */
export async function restorePostgres(url: string, dump: string, schemaExists: boolean): Promise<void> {
  const args = ['--no-owner', '--no-privileges', '--exit-on-error', `--dbname=${libpqUrl(url)}`];
  let listFile: string | undefined;
  try {
    if (schemaExists) {
      const { stdout } = await run('pg_restore', ['--list', dump], { maxBuffer: 64 * 1024 * 1024 });
      listFile = `${dump}.list`;
      writeFileSync(listFile, stdout.split('\n').filter((line) => !/^\d+; \d+ \d+ SCHEMA - /.test(line)).join('\n'));
      args.push(`--use-list=${listFile}`);
    }
    await run('pg_restore', [...args, dump], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('pg_restore is not installed (Debian: postgresql-client)');
    throw new Error(`pg_restore failed: ${(e.stderr ?? String(error)).trim().split('\n').at(-1)}`);
  } finally {
    if (listFile) rmSync(listFile, { force: true });
  }
}
