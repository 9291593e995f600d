import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { fileWitness } from './witness.ts';

// Two threads of one process (intake and the delivery thread) both sign checkpoints.
const writer = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.module).then(({ fileWitness }) => {
  const witness = fileWitness(workerData.file);
  let failures = 0;
  for (let seq = 1; seq <= 1500; seq++) {
    try { witness.write({ seq, hash: 'h'.repeat(64), at: seq, signature: 's'.repeat(88), publicKey: 'k'.repeat(44) }); } catch { failures++; }
  }
  parentPort.postMessage(failures);
});
`;

describe('checkpoint witness file', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('is written by two threads at once without a failed write or a torn file', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-witness-'));
    const file = path.join(dir, 'audit-witness.json');
    const module = new URL('./witness.ts', import.meta.url).href;
    const run = () =>
      new Promise<number>((resolve, reject) => {
        const worker = new Worker(writer, { eval: true, workerData: { module, file } });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    const failures = await Promise.all([run(), run()]);
    expect(failures).toEqual([0, 0]);
    expect(fileWitness(file).read()?.seq).toBeGreaterThan(0);
    expect(readdirSync(dir)).toEqual(['audit-witness.json']);
  });
});
