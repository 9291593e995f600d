import { describe, expect, it } from 'vitest';
import { DotStuffer, dotStuff } from './dot-stuff.ts';

async function stuffInChunks(body: Buffer, cuts: number[]): Promise<Buffer> {
  const stuffer = new DotStuffer();
  const parts: Buffer[] = [];
  stuffer.on('data', (p: Buffer) => parts.push(p));
  const done = new Promise((resolve) => stuffer.on('end', resolve));
  let last = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    stuffer.write(body.subarray(last, cut));
    last = cut;
  }
  stuffer.end(body.subarray(last));
  await done;
  return Buffer.concat(parts);
}

/** An independent, non-streaming statement of the rules, to check the stream against. */
function reference(text: string): string {
  let lines = text.replace(/\r\n|\r|\n/g, '\r\n');
  if (lines !== '' && !lines.endsWith('\r\n')) lines += '\r\n';
  return `${lines.replace(/^\./gm, '..')}.\r\n`;
}

const BARE = /\r(?!\n)|(?<!\r)\n/;

describe('DotStuffer', () => {
  it.each([
    ['plain', 'a\r\nb\r\n', 'a\r\nb\r\n.\r\n'],
    ['leading dots', '.a\r\n..b\r\n.\r\n', '..a\r\n...b\r\n..\r\n.\r\n'],
    ['no final CRLF', 'a', 'a\r\n.\r\n'],
    ['empty', '', '.\r\n'],
    ['only a dot', '.', '..\r\n.\r\n'],
    ['bare LF becomes CRLF', 'a\n.\nb', 'a\r\n..\r\nb\r\n.\r\n'],
    ['bare CR becomes CRLF', 'a\r.\rb\r', 'a\r\n..\r\nb\r\n.\r\n'],
    ['CR CR LF is two line ends', 'a\r\r\nb', 'a\r\n\r\nb\r\n.\r\n'],
    ['LF CR is two line ends', 'a\n\r.b', 'a\r\n\r\n..b\r\n.\r\n'],
    ['smuggling attempt is neutralised', 'x\n.\r\nMAIL FROM:<e@vil>\r\n', 'x\r\n..\r\nMAIL FROM:<e@vil>\r\n.\r\n'],
    ['dot mid-line stays', 'a.b\r\n', 'a.b\r\n.\r\n'],
  ])('%s', (_name, input, expected) => {
    expect(dotStuff(Buffer.from(input)).toString()).toBe(expected);
    expect(reference(input)).toBe(expected);
  });

  it('splits anywhere: every single cut and byte-by-byte give the one-shot result', async () => {
    const body = Buffer.from('.a\r\n.\r\r\n\n.b\r.\n..\r\n\r');
    const whole = dotStuff(body).toString('latin1');
    for (let cut = 0; cut <= body.length; cut++) {
      expect((await stuffInChunks(body, [cut])).toString('latin1')).toBe(whole);
    }
    const everyByte = Array.from({ length: body.length }, (_, i) => i);
    expect((await stuffInChunks(body, everyByte)).toString('latin1')).toBe(whole);
  });

  it('gives the same bytes whatever the chunking, and never a bare CR or LF', async () => {
    const alphabet = ['\r', '\n', '.', 'a', '\r\n', '.\r\n', '\r\n.', '\u00e9'];
    for (let round = 0; round < 500; round++) {
      let text = '';
      const length = Math.floor(Math.random() * 60);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(Math.random() * alphabet.length)];
      const body = Buffer.from(text);
      const whole = dotStuff(body);
      expect(whole.toString()).toBe(reference(text));
      const cuts = Array.from({ length: 1 + Math.floor(Math.random() * 10) }, () => Math.floor(Math.random() * (body.length + 1)));
      expect((await stuffInChunks(body, cuts)).equals(whole)).toBe(true);
      const wire = whole.toString('latin1');
      expect(BARE.test(wire)).toBe(false);
      expect(wire.endsWith('\r\n.\r\n') || wire === '.\r\n').toBe(true);
      expect(wire.slice(0, -3).includes('\r\n.\r\n')).toBe(false);
      expect(wire.startsWith('.\r\n') && wire !== '.\r\n').toBe(false);
    }
  });

  it('passes large bodies through without holding them', async () => {
    const stuffer = new DotStuffer();
    let biggest = 0;
    let total = 0;
    stuffer.on('data', (p: Buffer) => {
      biggest = Math.max(biggest, p.length);
      total += p.length;
    });
    const done = new Promise((resolve) => stuffer.on('end', resolve));
    const chunk = Buffer.from('line of text\r\n'.repeat(1000));
    for (let i = 0; i < 200; i++) stuffer.write(chunk);
    stuffer.end();
    await done;
    expect(total).toBe(chunk.length * 200 + 3);
    expect(biggest).toBeLessThanOrEqual(chunk.length * 2 + 2);
  });

  it('sends a chunk that needs no change as that chunk, not a copy (a copy per chunk doubled a 50 MB body, issue 14)', () => {
    const stuffer = new DotStuffer();
    const out: Buffer[] = [];
    stuffer.on('data', (p: Buffer) => out.push(p));
    const clean = Buffer.from('Subject: x\r\n\r\nline one\r\nline two\r\n');
    const endsInCr = Buffer.from('line three\r');
    const nextStartsWithLf = Buffer.from('\nline four.\r\n');
    stuffer.write(clean);
    stuffer.write(endsInCr);
    stuffer.write(nextStartsWithLf);
    stuffer.end();
    expect(out[0]).toBe(clean);
    // The held CR makes a view of the chunk, over the same memory.
    expect(out[1].buffer).toBe(endsInCr.buffer);
    expect(out[1].toString()).toBe('line three');
    expect(Buffer.concat(out).toString()).toBe('Subject: x\r\n\r\nline one\r\nline two\r\nline three\r\nline four.\r\n.\r\n');
  });
});
