import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { Store } from '../store/index.ts';
import { sealStream } from './part-streams.ts';

/*
 * Where sealed part content lives: small sealed parts in their row, large ones in files under
 * `<dataDir>/pickup/<id>/` (SQLite) or in pickup_chunks rows (PostgreSQL, where every cluster
 * node must reach them).
 */

const PIECE = 1024 * 1024;
const ID = /^[A-Za-z0-9_-]{22}$/;

interface PartSink {
  write(chunk: Buffer): Promise<void>;
  finish(): Promise<void>;
  /** Releases what a failed write holds; the caller removes the message's content. */
  abort(): Promise<void>;
}

export class PartStorage {
  private readonly store: Store;
  private readonly dir: string;
  private readonly inlineLimit: number;

  constructor(store: Store, dir: string, inlineLimit: number) {
    this.store = store;
    this.dir = dir;
    this.inlineLimit = inlineLimit;
  }

  /** Seals one part; it stays in memory only while its sealed form fits `inlineLimit`. */
  async put(id: string, idx: number, key: Buffer, plain: Readable): Promise<{ size: number; data: Buffer | null; external: number }> {
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    plain.on('error', (error) => counter.destroy(error));
    let held: Buffer[] = [];
    let heldLength = 0;
    let sink: PartSink | undefined;
    try {
      for await (const chunk of sealStream(key, plain.pipe(counter)) as AsyncIterable<Buffer>) {
        if (sink) {
          await sink.write(chunk);
          continue;
        }
        held.push(chunk);
        heldLength += chunk.length;
        if (heldLength > this.inlineLimit) {
          sink = await this.externalSink(id, idx);
          for (const piece of held) await sink.write(piece);
          held = [];
        }
      }
      if (!sink) return { size, data: Buffer.concat(held), external: 0 };
      await sink.finish();
    } catch (error) {
      await sink?.abort().catch(() => undefined);
      throw error;
    }
    return { size, data: null, external: 1 };
  }

  private async externalSink(id: string, idx: number): Promise<PartSink> {
    if (this.store.capabilities.bodiesInDatabase) {
      const db = this.store.db;
      let seq = 0;
      let pending: Buffer[] = [];
      let pendingLength = 0;
      const flush = async () => {
        if (!pendingLength) return;
        await db.insertInto('pickup_chunks').values({ message_id: id, idx, seq: seq++, data: Buffer.concat(pending) }).execute();
        pending = [];
        pendingLength = 0;
      };
      return {
        async write(chunk) {
          pending.push(chunk);
          pendingLength += chunk.length;
          if (pendingLength >= PIECE) await flush();
        },
        finish: flush,
        async abort() {
          pending = [];
        },
      };
    }
    // A file appears under its final name only once written and fsynced.
    const dir = path.join(this.dir, id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const finalPath = path.join(dir, String(idx));
    const tmpPath = `${finalPath}.tmp`;
    const handle = await open(tmpPath, 'w', 0o600);
    return {
      async write(chunk) {
        await handle.write(chunk);
      },
      async finish() {
        await handle.sync();
        await handle.close();
        await rename(tmpPath, finalPath);
        const dirHandle = await open(dir, 'r');
        await dirHandle.sync().finally(() => dirHandle.close());
      },
      async abort() {
        await handle.close();
      },
    };
  }

  read(id: string, idx: number): Readable {
    if (!this.store.capabilities.bodiesInDatabase) return createReadStream(path.join(this.dir, id, String(idx)), { highWaterMark: 256 * 1024 });
    const db = this.store.db;
    return Readable.from((async function* pieces() {
      for (let seq = 0; ; seq++) {
        const row = await db.selectFrom('pickup_chunks').select('data').where('message_id', '=', id).where('idx', '=', idx).where('seq', '=', seq).executeTakeFirst();
        if (!row) return;
        yield Buffer.from(row.data);
      }
    })());
  }

  async remove(id: string): Promise<void> {
    if (!ID.test(id)) return;
    await this.store.db.deleteFrom('pickup_chunks').where('message_id', '=', id).execute();
    await rm(path.join(this.dir, id), { recursive: true, force: true });
  }
}
