import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SmtpClient } from '../../../src/smtp/index.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { createTestSchema, hasPostgres, type TestSchema } from '../../helpers/stores.ts';

/*
 * Two gateway nodes share one PostgreSQL queue and one master key. Node A accepts mail (one
 * message larger than the inline limit) while the destination only answers 4xx, then dies by
 * SIGKILL; node B delivers everything once the destination recovers: shared leases and shared
 * bodies. A node with another master key refuses to start (it could not decrypt the queue).
 * (This once stalled: nodes had their own keys, and the decrypt error of the other node's
 * message was emitted before the SMTP client listened, killing node B.)
 */
const available = await hasPostgres();

async function send(port: number, subject: string, body: string): Promise<void> {
  const client = await SmtpClient.connect({ host: '127.0.0.1', port, servername: 'node', heloName: 'source.test', connectTimeoutMs: 5000, commandTimeoutMs: 30_000 });
  try {
    await client.ehlo();
    const { mail, rcpts } = await client.envelope('a@internet.test', [], [{ address: 'box@cluster.test', params: [] }]);
    expect(mail.code).toBe(250);
    expect(rcpts[0].code).toBe(250);
    const reply = await client.data(Readable.from([Buffer.from(`Subject: ${subject}\r\n\r\n${body}\r\n`)]));
    expect(reply.raw).toMatch(/^250 /);
  } finally {
    await client.quit();
  }
}

describeWithPeers(['root', 'postfix'], 'two gateway nodes on one PostgreSQL queue', () => {
  const temp = tempDir('cluster');
  let schema: TestSchema | undefined;
  let box: PostfixInstance;
  const nodes: GatewayProcess[] = [];

  beforeAll(async () => {
    if (!available) return;
    schema = await createTestSchema('cl');
    const port = await freePort('127.0.0.16');
    box = await startPostfix({ ip: '127.0.0.16', port, name: 'box.cluster.test', mode: 'tempfail', domains: ['cluster.test'] });
    for (const name of ['a', 'b']) {
      nodes.push(
        await startGateway(path.join(temp.dir, name), {
          store: { url: schema.url },
          vault: { masterKeyFile: path.join(temp.dir, 'shared-master.key') },
          domains: { 'cluster.test': { smarthost: `127.0.0.16:${port}`, verifyRecipients: 'off' } },
          queue: { retryScheduleMs: [500], pollIntervalMs: 200, leaseMs: 5000 },
          ...(process.env.CLUSTER_PDC ? { delivery: { perDomainConcurrency: Number(process.env.CLUSTER_PDC), connectTimeoutMs: 3000, commandTimeoutMs: 5000 } } : {}),
        }),
      );
    }
  });

  afterAll(async () => {
    for (const node of nodes) await node.kill();
    await box?.stop();
    await schema?.drop();
    temp.cleanup();
  });

  it.skipIf(!available)('a surviving node delivers what a killed node accepted', async () => {
    const [a, b] = nodes;
    for (let i = 0; i < 10; i++) await send(a.ports.inbound, `cluster-${i}`, `message ${i}`);
    await send(a.ports.inbound, 'cluster-large', `${'L'.repeat(76)}\r\n`.repeat(8000));
    for (let i = 10; i < 15; i++) await send(b.ports.inbound, `cluster-${i}`, `message ${i}`);
    await new Promise((r) => setTimeout(r, 1000)); // both nodes have tried (and been deferred)
    if (process.env.CLUSTER_KILL !== '0') await a.kill('SIGKILL');
    await box.setMode('accept');
    const messages = await box.waitForMessages(16, 40_000).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}\nqueue on b:\n${(await b.cli('queue', 'list')).stdout.slice(0, 3000)}\nb log:\n${b.output().slice(-3000)}`);
    });
    await new Promise((r) => setTimeout(r, 2000));
    const subjects = box.messages().map((m) => /^Subject: (cluster-\S+)$/m.exec(m.raw)?.[1]);
    expect(new Set(subjects).size).toBe(16);
    expect(subjects).toHaveLength(16); // each exactly once
    const large = messages.find((m) => m.raw.includes('Subject: cluster-large'));
    expect(large?.raw.length).toBeGreaterThan(600_000);
    expect((await b.cli('queue', 'list')).stdout).toMatch(/queue is empty/);
  });

  it.skipIf(!available)('a node with another master key refuses to start', async () => {
    const stranger = await startGateway(path.join(temp.dir, 'stranger'), { store: { url: schema!.url } }).then(
      async (node) => {
        await node.kill();
        return 'started';
      },
      (error: Error) => error.message,
    );
    expect(stranger).toMatch(/master key is not the one that encrypted this database/);
  });
});
