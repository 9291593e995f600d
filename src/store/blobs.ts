import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsyncPath } from './fsync.ts';

/**
 * Message bodies (already encrypted by the vault) as files in <dataDir>/blobs. A write is
 * durable when `write` resolves: the file and its directory are fsynced, and it appears under
 * its final name only after that (tmp + rename), so a crash never leaves a half file named
 * as a finished one.
 */
export interface BlobStore {
  write(id: string, content: Readable): Promise<number>;
  read(id: string): Readable;
  remove(id: string): Promise<void>;
  /**
   * Deletes half-written temp files left by a crashed process; returns how many.
   * `olderThanMs`: in the database store, pieces younger than this may belong to an upload
   * still in progress on another node and stay.
   */
  sweepTemp(olderThanMs?: number): Promise<number>;
  readonly dir: string;
}

const safeId = /^[A-Za-z0-9_-]{8,64}$/;

export function openBlobStore(dir: string): BlobStore {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmpDir = path.join(dir, 'tmp');
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const pathOf = (id: string) => {
    if (!safeId.test(id)) throw new Error(`invalid blob id ${JSON.stringify(id)}`);
    // Two-level fan-out keeps directories small at millions of messages.
    return path.join(dir, id.slice(0, 2), id);
  };

  return {
    dir,
    async write(id, content) {
      const finalPath = pathOf(id);
      const tmpPath = path.join(tmpDir, `${id}.${process.pid}.tmp`);
      const out = createWriteStream(tmpPath, { mode: 0o600 });
      try {
        await pipeline(content, out);
        await fsyncPath(tmpPath);
        mkdirSync(path.dirname(finalPath), { recursive: true, mode: 0o700 });
        await rename(tmpPath, finalPath);
        await fsyncPath(path.dirname(finalPath));
      } catch (error) {
        await rm(tmpPath, { force: true });
        throw error;
      }
      return out.bytesWritten;
    },
    read(id) {
      return createReadStream(pathOf(id), { highWaterMark: 64 * 1024 });
    },
    async remove(id) {
      await rm(pathOf(id), { force: true });
    },
    async sweepTemp(olderThanMs?: number) {
      // Temp names carry the writer's pid: anything not ours was cut off by a crash, and no
      // 250 was ever sent for it. In periodic sweeps (`olderThanMs`) only old files go: a
      // command-line process on the same data dir may be writing one right now.
      const mine = `.${process.pid}.tmp`;
      const cutoff = olderThanMs === undefined ? Infinity : Date.now() - olderThanMs;
      const names = (await readdir(tmpDir)).filter((name) => name.endsWith('.tmp') && !name.endsWith(mine));
      const stale: string[] = [];
      for (const name of names) {
        const modified = await stat(path.join(tmpDir, name)).then((s) => s.mtimeMs, () => null);
        if (modified !== null && modified < cutoff) stale.push(name);
      }
      await Promise.all(stale.map((name) => rm(path.join(tmpDir, name), { force: true })));
      return stale.length;
    },
  };
}
