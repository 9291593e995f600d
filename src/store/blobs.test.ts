import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openBlobStore } from './blobs.ts';

describe('blob store', () => {
  it('writes under the final name only when complete, and sweeps a crashed writer’s temp files', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-blobs-'));
    const blobs = openBlobStore(dir);
    await blobs.write('message-0001', Readable.from([Buffer.from('sealed bytes')]));
    writeFileSync(path.join(dir, 'tmp', 'message-0002.999999.tmp'), 'cut off by kill -9');
    expect(await blobs.sweepTemp()).toBe(1);
    expect(readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    const parts: Buffer[] = [];
    for await (const part of blobs.read('message-0001')) parts.push(part as Buffer);
    expect(Buffer.concat(parts).toString()).toBe('sealed bytes');
    await expect(blobs.write('message-0003', Readable.from((async function* () {
      yield Buffer.from('partial');
      throw new Error('client went away');
    })()))).rejects.toThrow('client went away');
    expect(readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    expect(() => blobs.read('../etc/passwd')).toThrow(/invalid blob id/);
  });
});
