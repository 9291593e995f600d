import path from 'node:path';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/index.ts';
import { SmtpClient } from '../../../src/smtp/index.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../../helpers/recording-smtp.ts';

/*
 * SIGTERM on a real `sealgate serve` (issue 14): three messages are being delivered to a
 * receiver that never answers the end of DATA in time, and a client is in the middle of DATA.
 * The client's message still gets its 250, a new connection is refused, the process exits 0
 * within shutdown.deadlineSeconds (plus a start-up margin), the in-flight leases are given back,
 * and the next start delivers all four messages.
 */
const DEADLINE_S = 4;

async function openSession(port: number): Promise<SmtpClient> {
  const client = await SmtpClient.connect({ host: '127.0.0.1', port, servername: 'gw', heloName: 'source.test', connectTimeoutMs: 5000, commandTimeoutMs: 30_000 });
  await client.ehlo();
  const { mail, rcpts } = await client.envelope('a@internet.test', [], [{ address: 'box@shutdown.test', params: [] }]);
  expect(mail.code).toBe(250);
  expect(rcpts[0].code).toBe(250);
  return client;
}

async function send(port: number, subject: string): Promise<void> {
  const client = await openSession(port);
  const body = new PassThrough();
  body.end(Buffer.from(`Subject: ${subject}\r\n\r\nbody of ${subject}\r\n`));
  expect((await client.data(body)).raw).toMatch(/^250 /);
  await client.quit();
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('graceful shutdown of sealgate serve', () => {
  const temp = tempDir('shutdown');
  let gateway: GatewayProcess | undefined;
  let receiver: RecordingSmtp | undefined;
  afterAll(async () => {
    await gateway?.kill('SIGKILL');
    await receiver?.stop();
    temp.cleanup();
  });

  it('finishes the message in DATA, gives the in-flight deliveries back, exits 0 in time, and the next start delivers them', async () => {
    const port = await freePort();
    receiver = await startRecordingSmtp({ port, dataReplyDelayMs: 120_000 });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'shutdown.test': { smarthost: `127.0.0.1:${port}`, verifyRecipients: 'off' } },
      // Long leases: only the shutdown's own release makes the next attempt possible soon.
      queue: { retryScheduleMs: [500], pollIntervalMs: 200, leaseMs: 600_000 },
      delivery: { perDomainConcurrency: 10, commandTimeoutMs: 300_000 },
      shutdown: { deadlineSeconds: DEADLINE_S },
    });
    const inbound = gateway.ports.inbound;
    for (const n of [1, 2, 3]) await send(inbound, `in-flight-${n}`);
    // All three are on the wire, waiting for the receiver's reply to their data.
    await until(() => [1, 2, 3].every((n) => receiver!.bytes().includes(`Subject: in-flight-${n}`)), 20_000, 'three deliveries in flight');

    const client = await openSession(inbound);
    const body = new PassThrough();
    const reply = client.data(body);
    body.write('Subject: in-data\r\n\r\nfirst half, ');
    await new Promise((r) => setTimeout(r, 200));

    const began = performance.now();
    const exited = new Promise<number | null>((resolve) => gateway!.child.once('exit', (code) => resolve(code)));
    gateway.child.kill('SIGTERM');
    await until(() => refused(inbound), 5_000, 'the listener closed');
    body.end('second half\r\n');
    expect((await reply).raw).toMatch(/^250 /);
    await client.quit().catch(() => undefined);

    expect(await exited).toBe(0);
    expect(performance.now() - began).toBeLessThan(DEADLINE_S * 1000 + 3_000);
    expect(gateway.output()).toMatch(/"released":[34]\b[^\n]*given back to the queue/);
    expect(gateway.output()).toMatch(/"signal":"SIGTERM"[^\n]*"stopped"|"msg":"stopped"[^\n]*"signal":"SIGTERM"/);

    // The slow receiver goes away; a prompt one takes its port and gets all four, once each.
    await receiver.stop();
    receiver = await startRecordingSmtp({ port });
    await gateway.restart();
    await receiver.until(4, 30_000);
    const subjects = receiver.transactions().map((t) => /Subject: (\S+)/.exec(t.data.toString())?.[1]).sort();
    expect(subjects).toEqual(['in-data', 'in-flight-1', 'in-flight-2', 'in-flight-3']);
  }, 60_000);
});

it('systemd waits longer than the default shutdown deadline before it kills (contrib/sealgate.service)', () => {
  const unit = readFileSync(path.resolve(import.meta.dirname, '../../../contrib/sealgate.service'), 'utf8');
  const stopSec = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)?.[1]);
  // The deadline, the 5 s the serve command allows past it, and a margin for the process exit.
  expect(stopSec).toBeGreaterThanOrEqual(configSchema.parse({}).shutdown.deadlineSeconds + 10);
});
