import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { startPortal } from '../helpers/portal-socket.ts';
import { httpsClient } from '../helpers/portal-socket.ts';
import { tempDir } from '../helpers/ports.ts';
import { multipart } from '../helpers/web-inject.ts';

/*
 * Issue 12 attack 6: header analysis fed a Received flood. Each Received field is a hop and a
 * table row, with no cap: 1 MB of `Received:x` pasted into /console/analyze (under the 1 MB
 * limit) was ~90,000 hops and a 34 MB page built on the gateway's event loop for ~2 s, as often
 * as a signed-in sender cared to post. `sealgate analyze` read any header up to 64 MB: an 8 MB
 * folded one took 4 s and 680 MB of memory. Now more than 100 Received fields (RFC 5321 §6.3's
 * loop threshold) is refused with 413 and a sentence on the page, exit 65 from the CLI, and a
 * header block past 1 MB (what no mail server passes on) with exit 65, before any work.
 */
const PASSWORD = 'correct horse battery staple';
const hop = (i: number) => `Received: from h${i}.example (h${i}.example [192.0.2.${i % 250}]) by mx${i}.example with ESMTPS; Thu, 3 Dec 2026 10:00:00 +0000\r\n`;
const chain = (n: number) => `${Array.from({ length: n }, (_, i) => hop(i)).join('')}Subject: x\r\n\r\nbody\r\n`;

describe('a Received flood at /console/analyze, over HTTPS', () => {
  let portal: Awaited<ReturnType<typeof startPortal>>;
  beforeAll(async () => {
    portal = await startPortal();
    await portal.fixture.users.add('alice@example.test', PASSWORD);
  });
  afterAll(async () => portal?.stop());

  it('is refused with 413 and a sentence at once; 100 hops are still analysed', async () => {
    const client = httpsClient(portal.port);
    await client.request('GET', '/console/login');
    const csrf = client.cookie('__Host-sg-csrf')!;
    expect((await client.request('POST', '/console/login', { _csrf: csrf, username: 'alice@example.test', password: PASSWORD })).status).toBe(303);
    const post = (message: string) => {
      const upload = multipart([['_csrf', csrf], ['message', message]], []);
      return client.request('POST', '/console/analyze', { type: upload.type, bytes: upload.body });
    };

    const flood = 'Received:x\r\n'.repeat(Math.floor((1000 * 1024) / 12));
    const started = performance.now();
    const answer = await post(flood);
    const took = performance.now() - started;
    expect(answer.status).toBe(413);
    expect(answer.body).toContain(`The message has ${flood.length / 12} Received fields; at most 100 are analysed`);
    expect(answer.body.length).toBeLessThan(100_000);
    expect(took).toBeLessThan(1000);

    // The control: a long but real path is analysed, one row per hop.
    const hundred = await post(chain(100));
    expect(hundred.status).toBe(200);
    expect(hundred.body.match(/<tr class="hop /g)).toHaveLength(100);
  });
});

describe('a Received flood and a huge header given to sealgate analyze', () => {
  const temp = tempDir('sg-i12-06-');
  let gateway: GatewayProcess;
  beforeAll(async () => {
    gateway = await startGateway(path.join(temp.dir, 'gw'), { web: { enabled: false } });
  }, 60_000);
  afterAll(async () => {
    await gateway?.kill();
    temp.cleanup();
  });

  it('exits 65 with a sentence, having printed no hops', async () => {
    const hops = path.join(temp.dir, 'hops.eml');
    writeFileSync(hops, chain(1000));
    const flooded = await gateway.cli('analyze', '--offline', hops);
    expect(flooded.code, flooded.stdout.slice(0, 200)).toBe(65);
    expect(flooded.stderr).toContain('the message has 1000 Received fields; at most 100 are analysed (more is a mail loop, RFC 5321 §6.3)');
    expect(flooded.stdout).toBe('');

    const big = path.join(temp.dir, 'big.eml');
    writeFileSync(big, `Received: from a by b${'\r\n (x)'.repeat(Math.floor((8 * 1024 * 1024) / 6))}; Thu, 3 Dec 2026 10:00:00 +0000\r\n\r\n`);
    const huge = await gateway.cli('analyze', '--offline', '--json', big);
    expect(huge.code).toBe(65);
    expect(huge.stderr).toMatch(/header block is 8193 KB; at most 1024 KB is analysed/);

    // The control: the same path at 100 hops is read.
    const fine = path.join(temp.dir, 'fine.eml');
    writeFileSync(fine, chain(100));
    const read = await gateway.cli('analyze', '--offline', '--json', fine);
    expect(read.code, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout).hops).toHaveLength(100);
  });
});
