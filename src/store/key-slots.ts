import { constants, fdatasync, open, unlink } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { randomAlphanumeric } from '../kernel/index.ts';
import { call, closeFd, fsyncDir, writeAll } from './fsync.ts';

/*
 * Key files made ahead of the messages that take them (issue 14). Creating a file and making
 * its name durable are a journal commit each (the O_DSYNC create, the shard folder's fsync),
 * and the file systems serialise those: under 20 sessions a key put waited 32 ms on average,
 * most of the time between the end of DATA and the 250. A slot is a file already made at the
 * sealed key's size, its data and its name synced in a batch beforehand; a put then overwrites
 * its bytes in place with O_DSYNC, which changes no metadata the file needs to be read back.
 *
 * A batch shares one shard folder (its ids share their first two characters, the rest random:
 * 62^14 ids per folder), so one folder sync covers it. An unused slot is a stray key of zeros:
 * the hourly sweep of keys without a message removes what a crash left, and a slot is never
 * handed out past SLOT_MAX_AGE_MS, well before that sweep would take it.
 */

const SLOT_MAX_AGE_MS = 10 * 60_000;
const BATCH = 64;
const LOW_WATER = 32;

export class KeySlots {
  private readonly dir: string;
  private readonly bytes: number;
  private readonly idLength: number;
  private ready: { id: string; madeAt: number }[] = [];
  /** Ids handed out and not yet written. */
  private readonly taken = new Set<string>();
  private refilling: Promise<void> | undefined;
  private failedAt = 0;

  /** `bytes`: the size of every sealed key; `idLength`: the ids' length (the queue's). */
  constructor(dir: string, bytes: number, idLength: number) {
    this.dir = dir;
    this.bytes = bytes;
    this.idLength = idLength;
  }

  /** An id whose key file is made already, or undefined (none ready: the put makes its file). */
  take(now = Date.now()): string | undefined {
    while (this.ready.length && now - this.ready[0]!.madeAt > SLOT_MAX_AGE_MS) {
      const stale = this.ready.shift()!;
      unlink(this.fileOf(stale.id), () => undefined);
    }
    if (this.ready.length < LOW_WATER) this.refill(now);
    const slot = this.ready.shift();
    if (!slot) return undefined;
    this.taken.add(slot.id);
    return slot.id;
  }

  /**
   * Writes `sealed` into the slot `id`, on disk when it resolves; false when `id` is no slot of
   * this process or the slot's file is gone (the caller makes the file).
   */
  async fill(id: string, sealed: Buffer): Promise<boolean> {
    if (!this.taken.delete(id) || sealed.length !== this.bytes) return false;
    let fd: number;
    try {
      fd = await call<number>((done) => open(this.fileOf(id), constants.O_WRONLY | constants.O_DSYNC, done));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    try {
      await writeAll(fd, sealed);
    } finally {
      await closeFd(fd);
    }
    return true;
  }

  private fileOf(id: string): string {
    return path.join(this.dir, id.slice(0, 2), id);
  }

  private refill(now: number): void {
    // A disk that refused a batch is not asked again at once: puts make their own files meanwhile.
    if (this.refilling || now - this.failedAt < 5_000) return;
    this.refilling = this.makeBatch()
      .catch(() => void (this.failedAt = Date.now()))
      .finally(() => (this.refilling = undefined));
  }

  private async makeBatch(): Promise<void> {
    const prefix = randomAlphanumeric(2);
    const folder = path.join(this.dir, prefix);
    const made = await mkdir(folder, { recursive: true, mode: 0o700 });
    if (made) await fsyncDir(this.dir);
    const zeros = Buffer.alloc(this.bytes);
    const ids = Array.from({ length: BATCH }, () => prefix + randomAlphanumeric(this.idLength - 2));
    const created: string[] = [];
    await Promise.all(
      ids.map(async (id) => {
        const fd = await call<number>((done) => open(this.fileOf(id), constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600, done));
        created.push(id);
        try {
          await writeAll(fd, zeros);
          // Blocks allocated and the size on disk now, so the put's O_DSYNC write is data only.
          await call<void>((done) => fdatasync(fd, (error) => done(error, undefined)));
        } finally {
          await closeFd(fd);
        }
      }),
    ).catch(async (error) => {
      for (const id of created) unlink(this.fileOf(id), () => undefined);
      throw error;
    });
    await fsyncDir(folder);
    const madeAt = Date.now();
    for (const id of ids) this.ready.push({ id, madeAt });
  }
}
