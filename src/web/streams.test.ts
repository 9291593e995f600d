import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readLimited } from './streams.ts';

describe('readLimited', () => {
  it('returns the whole content under the limit, joined from its chunks', async () => {
    const result = await readLimited(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 10);
    expect(result).toEqual({ content: Buffer.from('abcd'), truncated: false });
  });

  it('cuts at the limit, says so, and stops reading', async () => {
    let pulled = 0;
    const stream = new Readable({ read() { pulled++; this.push(Buffer.alloc(4, 120)); } });
    const result = await readLimited(stream, 10);
    expect(result.content.toString()).toBe('x'.repeat(10));
    expect(result.truncated).toBe(true);
    expect(stream.destroyed).toBe(true);
    expect(pulled).toBeLessThan(10);
  });

  it('fails with the stream\'s error (a damaged part)', async () => {
    const stream = new Readable({ read() { this.destroy(new Error('chunk 0 fails authentication')); } });
    await expect(readLimited(stream, 10)).rejects.toThrow('chunk 0 fails authentication');
  });
});
