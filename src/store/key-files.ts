import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { ExpiringMap } from '../kernel/index.ts';
import { fsyncDir, writeNewFileSynced } from './fsync.ts';
import { KeySlots } from './key-slots.ts';
import type { Store } from './schema.ts';

/**
 * Small sealed secrets by id (per-message body keys), kept where deleting them is real.
 * Crypto-shredding rests on this: a body's ciphertext may linger in free database pages, WAL
 * frames or backups, but once its key is gone no copy opens it (issue 9 item 8). The store
 * holds opaque bytes; the caller seals them under the master key.
 */
export interface KeyStore {
  /** Durable when it resolves (fsynced), so a 250 sent after it never outlives its key. */
  put(id: string, sealed: Buffer): Promise<void>;
  get(id: string): Promise<Buffer | null>;
  /** True when a key was there to destroy. */
  destroy(id: string): Promise<boolean>;
  /**
   * Ids of stored keys written more than `ageMs` ago, for the crash sweep. Age is judged on
   * the clock that stamped them (the database's, the key folder's file system), never this
   * node's: a node whose clock runs ahead must not see another node's upload as old.
   */
  idsOlderThan(ageMs: number): Promise<string[]>;
  readonly where: string;
  /**
   * A new id whose key is cheaper to put (its file made ahead, key-slots.ts), or undefined:
   * the caller then picks one of its own.
   */
  newId?(): string | undefined;
}

const SAFE_ID = /^[A-Za-z0-9_-]{8,64}$/;

/**
 * The sealed keys this process wrote in the last seconds (sealed under the master key, as on
 * disk), so a message relayed at once is not read back from its file: an open, read and close
 * less per relayed message (one existence check instead). Bounded in number and age; a key
 * destroyed here is forgotten here first, and one another process destroyed (`queue delete`)
 * is not served once its file is gone: the delivery under way then cannot open the body.
 */
const RECENT_KEYS = 2048;
const RECENT_KEY_MS = 30_000;

/**
 * One file per key under `dir` (the SQLite default, `<dataDir>/queue-keys`): unlinking a file
 * takes it out of every later copy of the data dir, which a database row cannot promise.
 * `slots`: make files ahead for ids of `idLength` whose sealed keys are `bytes` long (key-slots.ts).
 */
export function openKeyFiles(dir: string, options: { slots?: { bytes: number; idLength: number } } = {}): KeyStore {
  mkdirSync(path.join(dir, 'tmp'), { recursive: true, mode: 0o700 });
  const recent = new ExpiringMap<string, Buffer>(RECENT_KEYS, RECENT_KEY_MS);
  const pathOf = (id: string) => {
    if (!SAFE_ID.test(id)) throw new Error(`invalid key id ${JSON.stringify(id)}`);
    return path.join(dir, id.slice(0, 2), id);
  };
  const slots = options.slots ? new KeySlots(dir, options.slots.bytes, options.slots.idLength, pathOf) : undefined;
  return {
    where: dir,
    newId: slots ? () => slots.take() : undefined,
    async put(id, sealed) {
      const finalPath = pathOf(id);
      if (slots && (await slots.fill(id, sealed))) {
        recent.set(id, sealed);
        return;
      }
      // Written in place, not to tmp/ and renamed: only a committed message's key is ever
      // read, and its row commits after this resolves, so a key cut short by a crash belongs
      // to an enqueue that never committed and goes with the stray-key sweep (housekeeping.ts).
      // The rename cost a call and a directory sync per message (issue 14).
      try {
        await writeNewFileSynced(finalPath, sealed, 0o600);
      } catch (error) {
        // The shard folders (two id characters) exist after the first messages: made only
        // when the open finds none, not with a mkdir per message.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await mkdir(path.dirname(finalPath), { recursive: true, mode: 0o700 });
        await fsyncDir(dir);
        await writeNewFileSynced(finalPath, sealed, 0o600);
      }
      // The file's bytes are on disk; its name in the shard folder is not until the folder
      // is synced (ext4 and XFS order neither). Without it a crash after the 250 could leave
      // a committed message whose key file is gone, a body nobody can open.
      await fsyncDir(path.dirname(finalPath));
      recent.set(id, sealed);
    },
    async get(id) {
      const cached = recent.get(id);
      // The file still there says no other process destroyed the key: `queue delete` of a
      // message whose delivery had begun sent it anyway with the remembered key (i14-32).
      // A name lookup in a folder in the cache, on the event loop: one thread-pool round trip less.
      if (cached && existsSync(pathOf(id))) return cached;
      if (cached) recent.delete(id);
      return readKeyFileSync(pathOf(id));
    },
    async destroy(id) {
      recent.delete(id);
      // unlink, not rm({ force }): rm walks the path with lstat first, one more call per message.
      return unlink(pathOf(id)).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
          return false;
        },
      );
    },
    async idsOlderThan(ageMs) {
      // "Now" as the file system stamps it: on a shared mount the server sets mtimes, so a
      // probe written now is compared with them instead of this node's clock.
      const probe = path.join(dir, 'tmp', '.clock-probe');
      await writeFile(probe, '');
      const before = (await stat(probe)).mtimeMs - ageMs;
      await rm(probe, { force: true });
      const ids: string[] = [];
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const sub = path.join(dir, entry.name);
        if (entry.name === 'tmp') {
          // Half-written keys of a crash: their enqueue never committed.
          for (const name of await readdir(sub)) {
            if (name === '.clock-probe') continue;
            const info = await stat(path.join(sub, name)).catch(() => null);
            if (info && info.mtimeMs < before) await rm(path.join(sub, name), { force: true });
          }
          continue;
        }
        for (const name of await readdir(sub)) {
          if (!SAFE_ID.test(name)) continue;
          const info = await stat(path.join(sub, name)).catch(() => null);
          if (info && info.mtimeMs < before) ids.push(name);
        }
      }
      return ids;
    },
  };
}

/** Larger than any sealed key: a file past it is not one of ours. */
const KEY_FILE_MAX_BYTES = 4096;

/**
 * A key file's bytes, or null when there is none. Read on the event loop: a delivery thread
 * (its own KeyStore, so none of the intake's remembered keys) read every relayed message's key
 * back through four thread-pool round trips (open, fstat, read, close), each costing the loop
 * more than the calls on a file just written, in the page cache (issue 14). Not through a
 * link, and non-blocking: a FIFO planted at a key's name must not stop the loop in open().
 */
function readKeyFileSync(file: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`the key file ${file} is a symbolic link, not a key this gateway wrote; remove it`, { cause: error });
    throw error;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile() || info.size > KEY_FILE_MAX_BYTES) throw new Error(`the key file ${file} is not a regular file of a key's size; remove it`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Keys as rows of `message_keys`, for a PostgreSQL cluster without a shared key folder (every
 * node must read every key). Deletion there is only as real as PostgreSQL makes it: the dead
 * tuple stays in the table file until VACUUM reuses the space, and in WAL archives and
 * backups for good (docs/flow.md "Encryption at rest and deletion"); `queue.keyDir` on a
 * shared mount gives the file guarantee instead.
 */
export function openDatabaseKeyStore(store: Store): KeyStore {
  const db = store.db;
  // Stamped and judged on the database's clock (as message_chunks and leases): the sweeping
  // node is not the writing one, and their clocks may differ by hours.
  const now = () => (store.capabilities.databaseClock ? sql<number>`(extract(epoch from now()) * 1000)::bigint` : sql<number>`${Date.now()}`);
  return {
    where: `${store.capabilities.dialect}:message_keys`,
    async put(id, sealed) {
      await db.insertInto('message_keys').values({ message_id: id, sealed, created_at: now() }).execute();
    },
    async get(id) {
      const row = await db.selectFrom('message_keys').select('sealed').where('message_id', '=', id).executeTakeFirst();
      return row ? Buffer.from(row.sealed) : null;
    },
    async destroy(id) {
      const result = await db.deleteFrom('message_keys').where('message_id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async idsOlderThan(ageMs) {
      const rows = await db.selectFrom('message_keys').select('message_id').where('created_at', '<', sql<number>`${now()} - ${sql.lit(Math.round(ageMs))}`).execute();
      return rows.map((r) => r.message_id);
    },
  };
}
