import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { dataChunks } from './data-chunks.ts';

const collect = async (stream: Readable) => {
  const chunks: string[] = [];
  for await (const chunk of dataChunks(stream, 2)) chunks.push(chunk.toString());
  return chunks;
};

describe('dataChunks', () => {
  it('yields each chunk as pushed, not joined, and ends at the end', async () => {
    const stream = new PassThrough();
    const reading = collect(stream);
    for (const part of ['a', 'bb', 'ccc', 'dddd', 'e']) stream.write(part);
    stream.end();
    expect(await reading).toEqual(['a', 'bb', 'ccc', 'dddd', 'e']);
  });

  it('throws an error after the chunks that came before it, and stops at a close without end', async () => {
    const failing = new PassThrough();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const chunk of dataChunks(failing)) seen.push(chunk.toString());
    })();
    failing.write('one');
    failing.destroy(new Error('cut'));
    await expect(reading).rejects.toThrow('cut');
    expect(seen).toEqual(['one']);
    const closed = new PassThrough();
    const closing = collect(closed);
    closed.write('x');
    setImmediate(() => closed.destroy());
    expect(await closing).toEqual(['x']);
    expect(closed.readableEnded).toBe(false);
  });

  it('pauses the stream while chunks wait and resumes it once they are read; leaving early removes its listeners', async () => {
    const stream = Readable.from(['1', '2', '3', '4', '5', '6'].map((s) => Buffer.from(s)), { objectMode: false });
    const got: string[] = [];
    for await (const chunk of dataChunks(stream, 2)) {
      got.push(chunk.toString());
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (got.length === 1) expect(stream.isPaused()).toBe(true);
    }
    expect(got.join('')).toBe('123456');
    const open = new PassThrough();
    open.write('a');
    for await (const chunk of dataChunks(open)) if (chunk) break;
    expect(open.listenerCount('data') + open.listenerCount('end') + open.listenerCount('error')).toBe(0);
  });
});
