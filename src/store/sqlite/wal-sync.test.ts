import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openSqliteStore } from './index.ts';
import { WalSync } from './wal-sync.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wal-sync-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Counts fdatasync calls on every FileHandle and records their order against `events`. */
async function spyDatasync(events: string[]) {
  const probe = await open(path.join(tempDir(), 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const original = proto.datasync;
  return vi.spyOn(proto, 'datasync').mockImplementation(function (this: unknown) {
    events.push('sync started');
    return original.call(this).then(() => void events.push('sync done'));
  });
}

describe('WalSync', () => {
  it('covers the callers of one moment with one sync, and a caller during a sync with the next one', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'db.sqlite');
    const wal = await open(`${file}-wal`, 'w');
    await wal.close();
    const events: string[] = [];
    const spy = await spyDatasync(events);
    const walSync = new WalSync(file);
    const first = Array.from({ length: 10 }, () => walSync.durable());
    // A sync is in flight now: these may have committed after it started, so they wait for one more.
    const second = Array.from({ length: 10 }, () => walSync.durable());
    await Promise.all([...first, ...second]);
    expect(spy).toHaveBeenCalledTimes(2);
    await walSync.durable();
    expect(spy).toHaveBeenCalledTimes(3);
    await walSync.close();
  });

  it('a write through the store resolves only after a sync of the WAL that started after it', async () => {
    const file = path.join(tempDir(), 'gateway.sqlite');
    const store = await openSqliteStore(file);
    try {
      const [{ synchronous }] = (await sql<{ synchronous: number }>`pragma synchronous`.execute(store.db)).rows;
      expect(synchronous).toBe(1); // NORMAL: the COMMIT itself does not wait for the disk
      const events: string[] = [];
      await spyDatasync(events);
      // Autocommit, a transaction, and a read (which needs no sync).
      await store.db.insertInto('link_pins').values({ domain: 'a.test', min_level: 'tls', note: null, created_at: 1 }).execute().then(() => events.push('insert resolved'));
      await store.db.transaction().execute(async (trx) => {
        await trx.insertInto('link_pins').values({ domain: 'b.test', min_level: 'tls', note: null, created_at: 1 }).execute();
      }).then(() => events.push('transaction resolved'));
      await store.db.selectFrom('link_pins').selectAll().execute().then(() => events.push('select resolved'));
      expect(events).toEqual(['sync started', 'sync done', 'insert resolved', 'sync started', 'sync done', 'transaction resolved', 'select resolved']);
    } finally {
      await store.close();
    }
  });

  it('stops rather than report a failed sync as a failed write (the COMMIT is visible already)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'db.sqlite');
    const wal = await open(`${file}-wal`, 'w');
    await wal.close();
    const probe = await open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    vi.spyOn(proto, 'datasync').mockRejectedValue(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    const stops: string[] = [];
    const walSync = new WalSync(file, { onSyncFailure: (error) => stops.push(error.message) });
    await expect(walSync.durable()).rejects.toThrow(/EIO/);
    expect(stops).toEqual(['EIO: i/o error, fdatasync']);
    await walSync.close();
  });
});
