import { writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Group commit for SQLite without blocking the event loop (issue 14). With
 * `synchronous=FULL`, better-sqlite3 fsyncs the WAL inside every COMMIT, on the event loop:
 * the thread sat idle for the disk once per transaction and nothing else ran meanwhile. The
 * store now commits with `synchronous=NORMAL` (frames written, not yet synced) and every
 * writer awaits `durable()` before it resolves: one fdatasync of the WAL file on libuv's
 * thread pool covers every commit written before it started, and commits made while one runs
 * share the next (other connections' commits, and the batches of shared-commit.ts: one
 * connection's own transactions still wait in turn, since it stays held during the sync). A
 * caller still resolves only once its commit is on disk, as under FULL.
 *
 * Why this is sound: a commit is frames appended to the `-wal` file (the header too, when the
 * WAL restarts); a sync of that file after the COMMIT makes them survive power loss, and
 * SQLite never overwrites frames before a checkpoint, which under NORMAL syncs the WAL and
 * then the database file itself. The file is only truncated (wal_checkpoint(TRUNCATE)), never
 * replaced, while a connection is open, so one handle stays valid.
 */
export class WalSync {
  private readonly walFile: string;
  private handle: Promise<FileHandle> | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private closed = false;
  private readonly onSyncFailure: (error: Error) => void;

  constructor(databaseFile: string, options: { onSyncFailure?: (error: Error) => void } = {}) {
    this.walFile = `${databaseFile}-wal`;
    this.onSyncFailure = options.onSyncFailure ?? stopProcess;
  }

  /** Resolves once everything committed before this call is on disk. */
  durable(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.running) return this.start();
    // The sync in flight may have started before the caller's commit: it needs the next one.
    this.queued ??= this.running.then(
      () => this.next(),
      () => this.next(),
    );
    return this.queued;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.running?.catch(() => undefined);
    await this.queued?.catch(() => undefined);
    const handle = await this.handle?.catch(() => undefined);
    this.handle = undefined;
    await handle?.close();
  }

  private next(): Promise<void> {
    this.queued = undefined;
    return this.start();
  }

  private start(): Promise<void> {
    const run = this.syncOnce().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async syncOnce(): Promise<void> {
    this.handle ??= open(this.walFile, 'r');
    let handle: FileHandle;
    try {
      handle = await this.handle;
    } catch (error) {
      this.handle = undefined;
      // No WAL file: nothing was written through it, so nothing waits to be synced.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      await handle.datasync();
    } catch (error) {
      this.onSyncFailure(error as Error);
      throw error;
    }
  }
}

/**
 * A failed fdatasync leaves it unknown what is on disk, while the COMMIT is already visible to
 * every connection: a writer told "failed" would undo what it wrote around it (an enqueue
 * destroys the key of a message that is in fact committed), and a later sync may succeed
 * without the lost pages (Linux drops them on error, "fsyncgate"). As PostgreSQL does, the
 * process stops at once, before any caller hears of it; a restart recovers from the WAL and
 * the clients, who had no 250, send again.
 */
function stopProcess(error: Error): void {
  writeSync(2, `sealgate: FATAL: fdatasync of the SQLite WAL failed (${error.message}); stopping so nothing is acknowledged that may not be on disk\n`);
  process.kill(process.pid, 'SIGKILL');
}
