import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'sqlite-parallel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Separate processes, as `serve` and a CLI command are: in one process the migrations would not interleave.
it('processes opening a new database at once all migrate it (before: "table messages already exists")', async () => {
  const file = path.join(dir, 'sealgate.db');
  const module = path.resolve(import.meta.dirname, 'index.ts');
  const script = `import { openSqliteStore } from ${JSON.stringify(module)}; const store = await openSqliteStore(${JSON.stringify(file)}); const { rows } = await store.db.selectFrom('kysely_migration').select('name').execute().then((r) => ({ rows: r })); await store.close(); console.log(rows.length);`;
  const results = await Promise.allSettled([1, 2, 3, 4].map(() => run(process.execPath, ['--input-type=module', '-e', script], { timeout: 50_000 })));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as { stderr?: string }).stderr ?? r.reason).split('\n').find((l) => l.startsWith('Error')) ?? 'failed'] : []));
  expect(failures).toEqual([]);
  const counts = results.map((r) => (r.status === 'fulfilled' ? Number(r.value.stdout.trim()) : 0));
  expect(new Set(counts).size).toBe(1);
  expect(counts[0]).toBeGreaterThan(10);
}, 60_000);
