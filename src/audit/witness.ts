import { readFileSync, renameSync, writeFileSync } from 'node:fs';
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
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
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
      writeFileSync(temporary, `${JSON.stringify(checkpoint)}\n`, { mode: 0o600 });
      renameSync(temporary, file);
    },
  };
}
