import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IngressStream } from '../../src/smtp/server/ingress-stream.ts';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS } from './runs.ts';

/*
 * Issue 8 proof: the ingress stream gives the same bytes (or the same refusal) however the
 * client's data is cut into writes. The alphabet is weighted towards what the scanner decides
 * on: CR, LF, NUL, '.', 8-bit bytes, the blank line and Sealgate-Require.
 */
function ingress(eightBit: boolean): IngressStream {
  return new IngressStream({
    maxMessageBytes: 4096,
    maxTextLineBytes: 80,
    maxReceivedHeaders: 3,
    maxHeaderBytes: 2048,
    traceHeader: Buffer.from('Received: from test\r\n'),
    eightBit,
    completeHeaders: true,
    hostname: 'mx.test',
    now: new Date(0),
    onRequirement: () => undefined,
  });
}

/** Output bytes (Message-ID made constant) or the refusal's reply. */
async function run(chunks: Buffer[], eightBit: boolean): Promise<string> {
  const stream = ingress(eightBit);
  const out: Buffer[] = [];
  stream.on('data', (b: Buffer) => out.push(b));
  const done = new Promise<string>((resolve) => {
    stream.on('error', (error: Error & { code?: number; enhanced?: string }) => resolve(`error ${error.code} ${error.enhanced}`));
    stream.on('end', () => resolve(Buffer.concat(out).toString('latin1').replace(/Message-ID: <[^>]*>/, 'Message-ID: <x>')));
  });
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  return done;
}

const piece = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('\r\n', 'Subject: hi', 'Received: x', 'Sealgate-Require: tls', 'Sealgate-Require: bogus', 'X: y', '\r\n\t folded', '.', 'text', ' ') },
  { weight: 1, arbitrary: fc.constantFrom('\r', '\n', '\0', '\u00e9', '\r\n\r\n', 'a'.repeat(90)) },
);
const message = fc.array(piece, { maxLength: 40 }).map((parts) => Buffer.from(parts.join(''), 'latin1'));

/** Cuts a buffer at the given (sorted, deduplicated) offsets. */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const at = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const o of at) {
    chunks.push(bytes.subarray(start, o));
    start = o;
  }
  chunks.push(bytes.subarray(start));
  return chunks.filter((c) => c.length > 0);
}

describe('ingress stream: chunking does not change the result (property)', () => {
  it('random chunkings parse equal to parsing whole', { timeout: FUZZ_TIMEOUT_MS }, async () => {
    await fc.assert(
      fc.asyncProperty(message, fc.array(fc.nat(), { maxLength: 20 }), fc.boolean(), async (bytes, offsets, eightBit) => {
        const whole = await run([bytes], eightBit);
        expect(await run(cut(bytes, offsets), eightBit)).toBe(whole);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('byte-at-a-time writes parse equal to parsing whole', { timeout: FUZZ_TIMEOUT_MS }, async () => {
    await fc.assert(
      fc.asyncProperty(message, async (bytes) => {
        const whole = await run([bytes], true);
        expect(await run([...bytes].map((b) => Buffer.from([b])), true)).toBe(whole);
      }),
      { numRuns: Math.max(1, Math.floor(FUZZ_RUNS / 5)) },
    );
  });
});
