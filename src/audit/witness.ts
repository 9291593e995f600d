import { closeSync, constants, fstatSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import type { Checkpoint } from './checkpoint.ts';

/*
 * The newest signed checkpoint this node wrote, kept outside the database. The checkpoints in
 * the database can be deleted by whoever can write it, and a chain rebuilt from genesis then
 * looks whole; a copy in the node's data dir is what such a rewrite cannot reach, and verify
 * holds the log to it (issue 13 attack 2).
 */

export interface CheckpointWitness {
  read(): Checkpoint | null;
  write(checkpoint: Checkpoint): void;
}

function isCheckpoint(value: unknown): value is Checkpoint {
  const c = value as Checkpoint;
  return typeof c === 'object' && c !== null && Number.isInteger(c.seq) && typeof c.hash === 'string' && Number.isFinite(c.at) && typeof c.signature === 'string' && typeof c.publicKey === 'string';
}

/** A JSON file (written to a temporary name, then renamed over the old one). */
export function fileWitness(file: string): CheckpointWitness {
  return {
    read() {
      let text: string;
      let fd: number;
      try {
        // Non-blocking: a FIFO planted at the name made open() wait for a writer, and the
        // thread signing the checkpoint (the delivery thread, too) stopped for good (i15-02).
        fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
      try {
        if (!fstatSync(fd).isFile()) throw new Error(`${file} is not a regular file, not a witness this gateway wrote; remove it`);
        text = readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
      const parsed = JSON.parse(text) as unknown;
      if (!isCheckpoint(parsed)) throw new Error(`${file} is not an audit checkpoint`);
      return parsed;
    },
    write(checkpoint) {
      // Per thread, not per process: the delivery thread signs checkpoints too, and with one
      // temporary name its rename could take the other thread's half-written file, whose own
      // rename then failed (ENOENT).
      const temporary = `${file}.${process.pid}.${threadId}.tmp`;
      const text = `${JSON.stringify(checkpoint)}\n`;
      // Created, never opened as found ('wx', O_EXCL): the name is predictable, and a symlink
      // planted there made this write truncate its target (master.key), a FIFO made it wait
      // for a reader for good (i15-02). Whatever is there (a crash's leftover, a plant) is
      // unlinked, not followed, and the file made again.
      try {
        writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        unlinkSync(temporary);
        writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
      }
      renameSync(temporary, file);
    },
  };
}
