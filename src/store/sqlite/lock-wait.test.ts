import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { openSqliteStore } from './index.ts';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it("waits for another connection's write lock without stalling the event loop (SQLite's busy handler slept in the thread)", async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lock-wait-'));
  const file = path.join(dir, 'gateway.sqlite');
  const store = await openSqliteStore(file);
  const other = new BetterSqlite3(file);
  try {
    other.exec('BEGIN IMMEDIATE');
    other.prepare('insert into link_pins (domain, min_level, note, created_at) values (?, ?, ?, ?)').run('other.test', 'tls', null, 1);
    // The other writer holds the lock for 300 ms; the loop keeps ticking meanwhile.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    setTimeout(() => other.exec('COMMIT'), 300);
    const started = Date.now();
    await store.db.insertInto('link_pins').values({ domain: 'ours.test', min_level: 'tls', note: null, created_at: 2 }).execute();
    await store.db.transaction().execute(async (trx) => {
      await trx.insertInto('link_pins').values({ domain: 'ours2.test', min_level: 'tls', note: null, created_at: 3 }).execute();
    });
    clearInterval(ticker);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(ticks).toBeGreaterThanOrEqual(15);
    const domains = (await store.db.selectFrom('link_pins').select('domain').orderBy('domain').execute()).map((r) => r.domain);
    expect(domains).toEqual(['other.test', 'ours.test', 'ours2.test']);
  } finally {
    other.close();
    await store.close();
  }
});

it('a long wait that ended (only reads since) does not cut short the next short one', { timeout: 20_000 }, async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lock-wait-'));
  const file = path.join(dir, 'gateway.sqlite');
  const store = await openSqliteStore(file);
  const other = new BetterSqlite3(file);
  const pin = (domain: string) => store.db.insertInto('link_pins').values({ domain, min_level: 'tls', note: null, created_at: 1 }).execute();
  try {
    other.exec('BEGIN IMMEDIATE');
    const started = Date.now();
    await expect(pin('refused.test')).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(Date.now() - started).toBeLessThan(7000);
    other.exec('COMMIT');
    await store.db.selectFrom('link_pins').selectAll().execute();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // A collision of 200 ms, long after: waited for, not refused at once.
    other.exec('BEGIN IMMEDIATE');
    setTimeout(() => other.exec('COMMIT'), 200);
    await pin('waited.test');
    expect((await store.db.selectFrom('link_pins').select('domain').execute()).map((r) => r.domain)).toEqual(['waited.test']);
  } finally {
    other.close();
    await store.close();
  }
});
