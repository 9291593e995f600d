import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { createTestSchema, hasPostgres, type TestSchema } from '../../helpers/stores.ts';
import { runSwaks } from '../../helpers/swaks.ts';

/* The cluster backend end to end: the gateway process on PostgreSQL with delivery in its own
   thread, a kill -9, a restart. */
const available = await hasPostgres();

describeWithPeers(['root', 'postfix', 'swaks'], 'gateway on PostgreSQL', () => {
  const temp = tempDir('pg-gateway');
  let schema: TestSchema | undefined;
  let box: PostfixInstance;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    if (!available) return;
    schema = await createTestSchema('gw');
    const port = await freePort('127.0.0.15');
    box = await startPostfix({ ip: '127.0.0.15', port, name: 'box.pg.test', mode: 'tempfail', domains: ['pg.test'] });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      store: { url: schema.url },
      domains: { 'pg.test': { smarthost: `127.0.0.15:${port}`, verifyRecipients: 'off' } },
      delivery: { thread: true }, // the cluster setup: delivery in its own thread
      queue: { retryScheduleMs: [500], pollIntervalMs: 200 },
    });
  });

  afterAll(async () => {
    await gateway?.kill();
    await box?.stop();
    await schema?.drop();
    temp.cleanup();
  });

  it.skipIf(!available)('queues in PostgreSQL, survives kill -9 and delivers once', async () => {
    const sent = await runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', 'a@internet.test', '--to', 'box@pg.test', '--header', 'Subject: stored in postgres']);
    expect(sent.stdout).toMatch(/250 2\.0\.0 Ok: queued as/);
    const rows = await schema!.query(`select body from ${schema!.name}.messages`);
    expect(rows.rows).toHaveLength(1);
    expect(Buffer.from(rows.rows[0].body).includes('stored in postgres')).toBe(false); // encrypted at rest
    await gateway.kill('SIGKILL');
    await box.setMode('accept');
    await gateway.restart();
    await box.waitForMessages(1, 30_000);
    await until(async () => (await gateway.cli('queue', 'list')).stdout.includes('queue is empty'), 15_000, 'empty queue');
    expect(box.messages().filter((m) => m.raw.includes('Subject: stored in postgres'))).toHaveLength(1);
  });
});
