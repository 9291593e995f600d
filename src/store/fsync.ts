import { close, constants, fsync, open, write } from 'node:fs';

/*
 * Raw descriptors through the callback API: a FileHandle costs a promise, an
 * object and its close bookkeeping per call, and the per-message key file pays it on the
 * event loop (issue 14).
 */
export const call = <T>(start: (done: (error: NodeJS.ErrnoException | null, value: T) => void) => void) =>
  new Promise<T>((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value))));

export const closeFd = (fd: number) => call<void>((done) => close(fd, (error) => done(error, undefined)));

async function syncOpened(target: string, flags: number): Promise<void> {
  const fd = await call<number>((done) => open(target, flags, done));
  try {
    await call<void>((done) => fsync(fd, (error) => done(error, undefined)));
  } finally {
    await closeFd(fd);
  }
}

/** Flushes a file or directory to disk (a directory sync makes a rename or unlink durable). */
export const fsyncPath = (target: string): Promise<void> => syncOpened(target, constants.O_RDONLY);

/** A directory's fsync: its entries (a file created or unlinked in it) survive a crash. */
export const fsyncDir = (dir: string): Promise<void> => syncOpened(dir, constants.O_RDONLY | constants.O_DIRECTORY);

/**
 * Creates `file` (never an existing one) holding `data`, its data on disk when this resolves:
 * O_DSYNC makes the one write return only once the bytes and the size that reads them back
 * are stored (what write + fdatasync gave, one call less). The directory entry is the
 * caller's to sync.
 */
export async function writeNewFileSynced(file: string, data: Buffer, mode: number): Promise<void> {
  const flags = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_DSYNC;
  const fd = await call<number>((done) => open(file, flags, mode, done));
  try {
    await writeAll(fd, data);
  } finally {
    await closeFd(fd);
  }
}

/** Writes all of `data` from the file's start (a write may take less than it was given). */
export async function writeAll(fd: number, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await call<number>((done) => write(fd, data, offset, data.length - offset, offset, done));
}
