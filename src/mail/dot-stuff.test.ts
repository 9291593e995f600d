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

describe('DotStuffer', () => {
  it.each([
    ['plain', 'a\r\nb\r\n', 'a\r\nb\r\n.\r\n'],
    ['leading dots', '.a\r\n..b\r\n.\r\n', '..a\r\n...b\r\n..\r\n.\r\n'],
    ['no final CRLF', 'a', 'a\r\n.\r\n'],
    ['empty', '', '.\r\n'],
    ['bare LF becomes CRLF', 'a\n.\nb', 'a\r\n..\r\nb\r\n.\r\n'],
    ['bare CR becomes CRLF', 'a\r.\rb\r', 'a\r\n..\r\nb\r\n.\r\n'],
    ['dot mid-line stays', 'a.b\r\n', 'a.b\r\n.\r\n'],
  ])('%s', (_name, input, expected) => {
    expect(dotStuff(Buffer.from(input)).toString()).toBe(expected);
  });

  it('gives the same bytes whatever the chunking, and never a bare CR or LF', async () => {
    const alphabet = ['\r', '\n', '.', 'a', '\r\n', '.\r\n', '\r\n.'];
    for (let round = 0; round < 300; round++) {
      let text = '';
      for (let i = 0; i < 40; i++) text += alphabet[Math.floor(Math.random() * alphabet.length)];
      const body = Buffer.from(text);
      const whole = dotStuff(body);
      const cuts = Array.from({ length: 5 }, () => Math.floor(Math.random() * (body.length + 1)));
      expect((await stuffInChunks(body, cuts)).toString()).toBe(whole.toString());
      const wire = whole.toString('latin1');
      expect(/\r(?!\n)|(?<!\r)\n/.test(wire)).toBe(false);
      expect(wire.endsWith('\r\n.\r\n') || wire === '.\r\n').toBe(true);
      expect(wire.slice(0, -3).includes('\r\n.\r\n')).toBe(false);
    }
  });
});
