import { closeSync, constants, fdatasync, fstatSync, open, openSync, unlink } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { randomAlphanumeric } from '../kernel/index.ts';
import { call, closeFd, fsyncDir, writeAll } from './fsync.ts';

const OWN_UID = process.getuid?.();

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
  private readonly fileOf: (id: string) => string;
  private ready: { id: string; madeAt: number }[] = [];
  /** Ids handed out and not yet written. */
  private readonly taken = new Set<string>();
  private refilling: Promise<void> | undefined;
  private failedAt = 0;

  /**
   * `bytes`: the size of every sealed key; `idLength`: the ids' length (the queue's); `fileOf`:
   * the key file of an id under `dir` (key-files.ts's layout, a shard folder per first two characters).
   */
  constructor(dir: string, bytes: number, idLength: number, fileOf: (id: string) => string) {
    this.dir = dir;
    this.bytes = bytes;
    this.idLength = idLength;
    this.fileOf = fileOf;
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
   * this process, or the slot's file is gone or is not the file made for it (the caller makes the file).
   */
  async fill(id: string, sealed: Buffer): Promise<boolean> {
    if (!this.taken.delete(id) || sealed.length !== this.bytes) return false;
    const file = this.fileOf(id);
    let fd: number;
    try {
      // Not through a symlink: the ordinary put creates with O_EXCL and never follows one;
      // a link planted at a slot's name must not make this write land in another file.
      // The open, fstat and close of a file made minutes ago touch no disk, so they run here:
      // through the thread pool each cost the event loop more than the call itself (issue 14);
      // only the O_DSYNC write, which waits for the disk, goes there. Non-blocking: a FIFO
      // planted at the name made open() wait for a reader, and on the event loop that stopped
      // the whole gateway (i15-01); now it fails with ENXIO (or opens, and fstat refuses it).
      // O_NONBLOCK changes nothing for the regular file this should be.
      fd = openSync(file, constants.O_WRONLY | constants.O_DSYNC | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      if (code !== 'ELOOP' && code !== 'ENXIO') throw error;
      return this.discard(file);
    }
    let written = false;
    try {
      // Still the file this process made: one regular file of the sealed size, ours, with no
      // other name. A hard link (a `cp -al` snapshot, another key's file) would get the key
      // where no destroy reaches it; another owner's file could be read by that owner.
      const info = fstatSync(fd);
      if (info.isFile() && info.nlink === 1 && info.size === this.bytes && (OWN_UID === undefined || info.uid === OWN_UID)) {
        await writeAll(fd, sealed);
        written = true;
      }
    } finally {
      closeSync(fd);
    }
    return written || this.discard(file);
  }

  /** A slot's name that holds something else: taken away (the link, not its target), so the put makes a new file. */
  private async discard(file: string): Promise<false> {
    await call<void>((done) => unlink(file, (error) => done(error && error.code !== 'ENOENT' ? error : null, undefined)));
    return false;
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
    const ids = Array.from({ length: BATCH }, () => prefix + randomAlphanumeric(this.idLength - 2));
    const folder = path.dirname(this.fileOf(ids[0]!));
    const made = await mkdir(folder, { recursive: true, mode: 0o700 });
    if (made) await fsyncDir(this.dir);
    const zeros = Buffer.alloc(this.bytes);
    const created: { id: string; fd: number }[] = [];
    try {
      // Made one after another: an O_CREAT takes the folder's lock for writing, and 64 at once
      // on the thread pool's four threads spun on it (5% of the machine's CPU in a relay run, issue 14).
      for (const id of ids) {
        const fd = await call<number>((done) => open(this.fileOf(id), constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600, done));
        created.push({ id, fd });
        await writeAll(fd, zeros);
      }
      // Blocks allocated and the size on disk now, so the put's O_DSYNC write is data only.
      await Promise.all(created.map(({ fd }) => call<void>((done) => fdatasync(fd, (error) => done(error, undefined)))));
    } catch (error) {
      for (const { id } of created) unlink(this.fileOf(id), () => undefined);
      throw error;
    } finally {
      await Promise.all(created.map(({ fd }) => closeFd(fd).catch(() => undefined)));
    }
    await fsyncDir(folder);
    const madeAt = Date.now();
    for (const id of ids) this.ready.push({ id, madeAt });
  }
}
