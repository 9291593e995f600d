import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { MimeDepthLimit } from './mime-depth.ts';

function nested(depth: number): string {
  let body = 'Content-Type: text/plain\r\n\r\nhello\r\n';
  for (let i = depth; i >= 1; i--) body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}--b${i}--\r\n`;
  return `Subject: x\r\n${body}`;
}

async function run(message: string, max: number, chunk = 7): Promise<string> {
  const out: Buffer[] = [];
  const bytes = Buffer.from(message, 'latin1');
  const pieces = [];
  for (let i = 0; i < bytes.length; i += chunk) pieces.push(bytes.subarray(i, i + chunk));
  const limit = new MimeDepthLimit(max);
  limit.on('data', (d: Buffer) => out.push(d));
  await pipeline(Readable.from(pieces), limit);
  return Buffer.concat(out).toString('latin1');
}

describe('MimeDepthLimit', () => {
  it('passes bytes through unchanged up to the limit, in any chunking', async () => {
    const message = nested(5);
    expect(await run(message, 5)).toBe(message);
    expect(await run(message, 5, 1)).toBe(message);
  });

  it('refuses one level more with 554 5.6.0', async () => {
    await expect(run(nested(6), 5)).rejects.toMatchObject({ code: 554, enhanced: '5.6.0' });
  });

  it('counts siblings once, closes levels with an enclosing delimiter, and counts message/rfc822', async () => {
    const siblings = 'Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\na\r\n--o\r\nContent-Type: multipart/alternative;\r\n boundary="j"\r\n\r\n--j\r\n\r\nb\r\n--j--\r\n--o--\r\n';
    await expect(run(siblings, 2)).resolves.toBe(siblings);
    await expect(run(siblings, 1)).rejects.toMatchObject({ enhanced: '5.6.0' });
    const encapsulated = 'Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n--p\r\n\r\nx\r\n--p--\r\n--o--\r\n';
    await expect(run(encapsulated, 3)).resolves.toBe(encapsulated);
    await expect(run(encapsulated, 2)).rejects.toMatchObject({ enhanced: '5.6.0' });
  });
});
