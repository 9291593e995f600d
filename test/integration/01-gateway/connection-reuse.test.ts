import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sendMessage } from '../../helpers/cluster.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { freePort, tempDir } from '../../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../../helpers/recording-smtp.ts';

/*
 * Deliveries that run side by side to one smarthost give their sessions back to the pool
 * together; the next batch must find them there. With a pool of 4 beside a per-domain
 * concurrency of 10, six of the ten sessions were closed and opened again for the next batch
 * (each a new TCP connection, and with TLS a new handshake): 16 or more EHLOs for two batches.
 */
const CONCURRENCY = 10;

async function send(port: number, subject: string): Promise<void> {
  expect((await sendMessage(port, subject, { recipients: ['box@reuse.test'] })).acked).toBe(true);
}

describe('outbound session reuse', () => {
  const temp = tempDir('connection-reuse');
  let gateway: GatewayProcess | undefined;
  let receiver: RecordingSmtp | undefined;
  afterAll(async () => {
    await gateway?.kill('SIGKILL');
    await receiver?.stop();
    temp.cleanup();
  });

  it('keeps as many idle sessions as deliveries may run to the domain, so a second batch opens none', async () => {
    const port = await freePort();
    // A slow answer to the data keeps the batch's deliveries on the wire at the same time.
    receiver = await startRecordingSmtp({ port, dataReplyDelayMs: 400 });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'reuse.test': { smarthost: `127.0.0.1:${port}`, verifyRecipients: 'off' } },
      queue: { pollIntervalMs: 200 },
      delivery: { concurrency: CONCURRENCY, perDomainConcurrency: CONCURRENCY },
    });
    const inbound = gateway.ports.inbound;
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, n) => send(inbound, `first-${n}`)));
    await receiver.until(CONCURRENCY, 20_000);
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, n) => send(inbound, `second-${n}`)));
    await receiver.until(2 * CONCURRENCY, 20_000);
    const sessions = receiver.commands().filter((line) => /^EHLO /i.test(line.toString('latin1'))).length;
    expect(sessions).toBeGreaterThan(1); // the deliveries did run side by side
    expect(sessions).toBeLessThanOrEqual(CONCURRENCY);
  });
});
