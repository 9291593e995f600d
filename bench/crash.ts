/**
 * bench/crash: deliveries through Sealgate while it is SIGKILLed at random moments and
 * restarted each time, plus self-kills at the two windows that matter most (after the
 * durable commit but before the 250; after the remote 250 but before the dequeue).
 * A message acknowledged with 250 must arrive; prints lost, duplicates and corrupt.
 *
 *   node bench/crash.ts [--messages 1000] [--senders 8] [--crash-rate 0.02] [--workers N]
 */
import path from 'node:path';
import { Readable } from 'node:stream';
import { startGateway, type GatewayProcess } from '../test/helpers/gateway.ts';
import { freePort, tempDir } from '../test/helpers/ports.ts';
import { startPostfix } from '../test/helpers/postfix.ts';
import { SmtpClient } from '../src/smtp/index.ts';
import { arg, figure, waitFor } from './lib.ts';

const total = arg('messages', 1000);
const senders = arg('senders', 8);
const crashRate = arg('crash-rate', 0.02);
const temp = tempDir('bench-crash');
const filler = `${'crash test filler line '.repeat(3)}\r\n`.repeat(40);

async function sendOne(port: number, n: number): Promise<boolean> {
  let client: SmtpClient | null = null;
  try {
    client = await SmtpClient.connect({ host: '127.0.0.1', port, servername: 'gateway', heloName: 'source.bench.test', connectTimeoutMs: 2000, commandTimeoutMs: 10_000 });
    await client.ehlo();
    const { mail, rcpts } = await client.envelope('sender@source.test', [], [{ address: 'box@crash.test', params: [] }]);
    if (mail.code !== 250 || rcpts[0]?.code !== 250) return false;
    const reply = await client.data(Readable.from([Buffer.from(`Subject: crash-${n}\r\nMessage-ID: <crash-${n}@source.test>\r\n\r\n${filler}`)]));
    return reply.code === 250;
  } catch {
    return false;
  } finally {
    client?.close();
  }
}

try {
  const port = await freePort('127.0.0.50');
  const destination = await startPostfix({ ip: '127.0.0.50', port, name: 'box.crash.test', mode: 'accept', domains: ['crash.test'] });
  process.env.SEALGATE_CRASH_POINTS = 'after-enqueue-commit,after-remote-accept';
  process.env.SEALGATE_CRASH_RATE = String(crashRate);
  const gateway: GatewayProcess = await startGateway(path.join(temp.dir, 'gw'), {
    domains: { 'crash.test': { smarthost: `127.0.0.50:${port}` } },
    limits: { maxConnectionsPerIp: 1000, maxCommandsPerMinute: 1_000_000 },
    queue: { retryScheduleMs: [500], pollIntervalMs: 100, leaseMs: 60_000 },
    log: { level: 'warn' },
    // `serve`'s default (a listener worker per core) unless --workers N: a crash point in a
    // worker kills that worker (the primary forks it again), one in delivery the whole node.
    serve: { workers: process.argv.includes('--workers') ? arg('workers', 1) : 'auto' },
  });

  const acked = new Set<number>();
  const pending = Array.from({ length: total }, (_, i) => i);
  let kills = 0;
  let selfKills = 0;
  let restarting: Promise<void> | null = null;
  let stopping = false;
  // One restart at a time; a gateway that dies again while starting (a crash point can fire
  // on its first delivery) is simply started again.
  const relaunch = () => {
    restarting ??= (async () => {
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          await gateway.restart();
          break;
        } catch {
          selfKills++;
        }
      }
      restarting = null;
    })();
    return restarting;
  };
  const alive = () => gateway.child.exitCode === null && gateway.child.signalCode === null;
  // Supervisor: a gateway that killed itself at a crash point is restarted, like systemd would.
  const supervisor = (async () => {
    while (!stopping) {
      if (!restarting && !alive()) {
        selfKills++;
        await relaunch();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const killer = (async () => {
    while (acked.size < total) {
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 1000));
      if (restarting || !alive() || acked.size >= total) continue;
      kills++;
      await gateway.kill('SIGKILL');
      await relaunch();
    }
  })();
  const sender = async () => {
    while (acked.size < total) {
      const n = pending.shift();
      if (n === undefined) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (await sendOne(gateway.ports.inbound, n)) acked.add(n);
      else {
        pending.push(n); // not acknowledged: the sender tries again, as an MTA would
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const started = Date.now();
  await Promise.all([killer, ...Array.from({ length: senders }, sender)]);
  console.log(`all ${total} acknowledged after ${kills} kills and ${selfKills} self-kills at crash points (${((Date.now() - started) / 1000).toFixed(0)} s)`);

  // Drain without fault injection.
  process.env.SEALGATE_CRASH_RATE = '0';
  while (restarting) await restarting;
  await gateway.kill('SIGKILL');
  await relaunch();
  const subjects = () => destination.messages().map((m) => /^Subject: crash-(\d+)$/m.exec(m.raw)?.[1]).filter((s): s is string => s !== undefined).map(Number);
  await waitFor(() => new Set(subjects()).size >= total, 180_000, 'all messages at the destination').catch((error) => console.error(String(error)));
  await new Promise((r) => setTimeout(r, 2000));
  const delivered = subjects();
  const unique = new Set(delivered);
  const lost = [...acked].filter((n) => !unique.has(n)).length;
  const verify = await gateway.cli('queue', 'verify');
  const corrupt = verify.code === 0 ? 0 : (/damaged: (.*)/.exec(verify.stdout)?.[1].split(' ').length ?? 1);
  stopping = true;
  await supervisor;
  await gateway.kill();
  await destination.stop();
  console.log(`delivered ${delivered.length} copies of ${unique.size} messages; kills ${kills + selfKills}`);
  figure('crash.lost', lost, 0);
  figure('crash.duplicates', delivered.length - unique.size, 0);
  figure('crash.corrupt', corrupt, 0);
  figure('crash.kills', kills + selfKills, 0);
} finally {
  temp.cleanup();
}
