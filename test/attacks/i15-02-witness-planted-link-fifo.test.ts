import { execFileSync, spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { fileWitness } from '../../src/audit/index.ts';

/*
 * Issue 14 (attack pass 15): the audit checkpoint witness (`<dataDir>/audit-checkpoint.json`)
 * is written by both threads now (intake and the delivery thread, which signs a checkpoint
 * every `checkpointEvery` lifecycle events), through a temporary name anyone can predict:
 * `audit-checkpoint.json.<pid>.<threadId>.tmp`. writeFileSync opened it with O_CREAT|O_TRUNC
 * and followed what it found there:
 *  - a symlink planted at the temporary name (the reach of i14-40's links in the key folder)
 *    made the witness truncate and overwrite its target, master.key here: every queued body
 *    unreadable at the next start;
 *  - a FIFO planted at the temporary name, or at the witness itself (read first, O_RDONLY),
 *    made the synchronous open wait for the other end: the thread that signed the checkpoint
 *    stopped for good. In the delivery thread that is a gateway that keeps answering 250 and
 *    /readyz while it never sends again.
 * A helper opens each FIFO after 1.5 s so the test ends either way; the write must neither
 * have waited for it nor written through anything it did not make.
 */
const CHECKPOINT = { seq: 7, hash: 'h'.repeat(64), at: 1, signature: 's'.repeat(88), publicKey: 'k'.repeat(44) };

/**
 * Opens `file` at the other end after 1.5 s (a reader for `r`, a writer for `w`), giving up after
 * 5 s more; the returned stop ends it (its own process group) and waits for it.
 */
function otherEnd(file: string, end: 'r' | 'w'): () => Promise<unknown> {
  const script = end === 'r' ? 'sleep 1.5; exec timeout 5 cat "$0" > /dev/null' : 'sleep 1.5; exec timeout 5 sh -c \': > "$0"\' "$0"';
  const child = spawn('sh', ['-c', script, file], { stdio: 'ignore', detached: true });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    return exited;
  };
}

describe('i15-02 a link or a FIFO planted at the audit witness', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));
  const setup = () => {
    dir = mkdtempSync(path.join(tmpdir(), 'i15-02-'));
    const file = path.join(dir, 'audit-checkpoint.json');
    return { file, temporary: `${file}.${process.pid}.${threadId}.tmp` };
  };

  it('a symlink at the temporary name: the write does not go through it', () => {
    const { file, temporary } = setup();
    const victim = path.join(dir!, 'master.key');
    writeFileSync(victim, 'the master key, 32 bytes of it..', { mode: 0o600 });
    symlinkSync(victim, temporary);
    fileWitness(file).write(CHECKPOINT);
    expect(readFileSync(victim, 'utf8'), 'the link target is untouched').toBe('the master key, 32 bytes of it..');
    expect(lstatSync(file).isFile()).toBe(true);
    expect(fileWitness(file).read()).toEqual(CHECKPOINT);
  });

  it('a FIFO at the temporary name: the write neither waits for a reader nor writes into it', async () => {
    const { file, temporary } = setup();
    execFileSync('mkfifo', ['-m', '600', temporary]);
    const stop = otherEnd(temporary, 'r');
    const began = performance.now();
    try {
      fileWitness(file).write(CHECKPOINT);
    } finally {
      const heldMs = performance.now() - began;
      await stop();
      expect(heldMs, 'the thread was held in open() until a reader came').toBeLessThan(500);
    }
    expect(lstatSync(file).isFile()).toBe(true);
    expect(fileWitness(file).read()).toEqual(CHECKPOINT);
  }, 20_000);

  it('a FIFO at the witness: the read says what is wrong instead of waiting for a writer', async () => {
    const { file } = setup();
    execFileSync('mkfifo', ['-m', '600', file]);
    const stop = otherEnd(file, 'w');
    const began = performance.now();
    let error: unknown;
    try {
      fileWitness(file).read();
    } catch (caught) {
      error = caught;
    }
    const heldMs = performance.now() - began;
    await stop();
    expect(heldMs, 'the thread was held in open() until a writer came').toBeLessThan(500);
    expect(String(error)).toMatch(/not a regular file.*remove it/);
  }, 20_000);
});
