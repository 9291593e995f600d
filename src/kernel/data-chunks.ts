import type { Readable } from 'node:stream';

/**
 * The chunks of a stream's 'data' events one by one, as pushed: `for await` on the stream
 * itself joins what is buffered into one new buffer (a copy of a body), and node:events'
 * `on()` allocates two 2048-slot queues per call, ~60 kB per relayed message for its two
 * uses (issue 14). Ends at 'end' or 'close', after what arrived before them; an 'error' is
 * thrown once the chunks before it are read. Pauses the stream while `highWaterMark` chunks
 * wait, resumes it once they are read.
 */
export async function* dataChunks(stream: Readable, highWaterMark = 16): AsyncGenerator<Buffer, void, undefined> {
  let queue: Buffer[] = [];
  let head = 0;
  let ended = false;
  let failure: { error: unknown } | undefined;
  let paused = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    if (!paused && queue.length - head >= highWaterMark) {
      paused = true;
      stream.pause();
    }
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (error: unknown) => {
    failure ??= { error };
    notify();
  };
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('close', onEnd);
  stream.on('error', onError);
  try {
    for (;;) {
      if (head < queue.length) {
        const chunk = queue[head++];
        if (head === queue.length) {
          queue = [];
          head = 0;
          if (paused) {
            paused = false;
            stream.resume();
          }
        }
        yield chunk;
        continue;
      }
      if (failure) throw failure.error;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('close', onEnd);
    stream.off('error', onError);
  }
}
