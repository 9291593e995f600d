/**
 * Preload for bench/relay-profile: counts better-sqlite3 statement executions per thread (the
 * ESM import of a CommonJS package shares require's cache, so patching the prototype here
 * reaches the store). Written to $RELAY_PROFILE_SQL_DIR/sql-<pid>-<thread>.json at exit.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { threadId } from 'node:worker_threads';

const dir = process.env.RELAY_PROFILE_SQL_DIR;
if (dir) {
  const require = createRequire(import.meta.url);
  const Database = require('better-sqlite3') as { prototype: Record<string, unknown> };
  const counts = { prepares: 0, runs: 0, byStatement: {} as Record<string, number>, usByStatement: {} as Record<string, number> };
  const prepare = Database.prototype.prepare as (this: unknown, sql: string) => Record<string, unknown>;
  const patched = new WeakSet<object>();
  Database.prototype.prepare = function (this: unknown, sql: string) {
    counts.prepares++;
    const statement = prepare.call(this, sql);
    const proto = Object.getPrototypeOf(statement) as Record<string, unknown>;
    if (!patched.has(proto)) {
      patched.add(proto);
      for (const name of ['run', 'get', 'all', 'iterate']) {
        const original = proto[name] as (this: { source: string }, ...a: unknown[]) => unknown;
        proto[name] = function (this: { source: string }, ...a: unknown[]) {
          counts.runs++;
          const key = this.source.replace(/\s+/g, ' ');
          counts.byStatement[key] = (counts.byStatement[key] ?? 0) + 1;
          const start = performance.now();
          try {
            return original.apply(this, a);
          } finally {
            counts.usByStatement[key] = (counts.usByStatement[key] ?? 0) + (performance.now() - start) * 1000;
          }
        };
      }
    }
    return statement;
  };
  const exec = Database.prototype.exec as (this: unknown, sql: string) => unknown;
  Database.prototype.exec = function (this: unknown, sql: string) {
    counts.runs++;
    const key = `exec: ${sql.replace(/\s+/g, ' ')}`;
    counts.byStatement[key] = (counts.byStatement[key] ?? 0) + 1;
    const start = performance.now();
    try {
      return exec.call(this, sql);
    } finally {
      counts.usByStatement[key] = (counts.usByStatement[key] ?? 0) + (performance.now() - start) * 1000;
    }
  };
  process.on('exit', () => writeFileSync(path.join(dir, `sql-${process.pid}-${threadId}.json`), JSON.stringify(counts)));
}
