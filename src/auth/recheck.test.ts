import { expect, it } from 'vitest';
import { analyzeMessage } from './recheck.ts';

const received = (from: string) => `Received: from ${from} (${from} [192.0.2.7])\r\n\tby mx.example.org (Postfix) with ESMTPS id 4Xy\r\n\tfor <a@example.org>; Thu, 03 Dec 2026 12:00:00 +0000\r\n`;

it('reads a UTF-8 header block as UTF-8 (RFC 6532), another as latin1', async () => {
  const utf8 = await analyzeMessage(Buffer.from(`${received('bücher.example')}Subject: x\r\n\r\nbody\r\n`, 'utf8'));
  expect(utf8.trace.hops[0]?.from).toBe('bücher.example');
  const latin1 = await analyzeMessage(Buffer.from(`${received('b\u00fccher.example')}Subject: x\r\n\r\nbody\r\n`, 'latin1'));
  expect(latin1.trace.hops[0]?.from, 'one byte 0xFC is not UTF-8: read as latin1').toBe('bücher.example');
});
