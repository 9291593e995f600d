import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { receivedCounts, sendMessage } from '../../helpers/cluster.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../../helpers/recording-smtp.ts';

/*
 * `serve.workers: 2` on SQLite (issue 14, "every core of one machine"): a real `sealgate serve`
 * primary with two listener worker processes on the same sockets, relaying to a recording
 * receiver. Every message arrives exactly once, both workers took sessions, /metrics sums the
 * workers' session counters, a SIGKILLed worker is forked again (unready meanwhile) and mail
 * keeps flowing, SIGTERM stops every process with exit 0, and the audit chain the three
 * processes appended to verifies.
 */
const CLIENTS = 4;
const PER_CLIENT = 8;

function logLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Sum of the series of `name` whose labels include `labels`, from a text exposition. */
function total(exposition: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function status(port: number, pathname: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${pathname}`)).status;
}

/** `count` messages from `clients` parallel clients, one session each; every one must get its 250. */
async function sendBatch(port: number, prefix: string, clients: number, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let n = 0; n < count; n++) {
        const sent = await sendMessage(port, `${prefix}-${c}-${n}`, { recipients: ['box@corp.test'] });
        expect(sent.acked, sent.reply).toBe(true);
      }
    }),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('sealgate serve with two listener workers', () => {
  const temp = tempDir('workers');
  let gateway: GatewayProcess | undefined;
  let rx: RecordingSmtp | undefined;
  afterAll(async () => {
    await gateway?.kill('SIGKILL');
    await rx?.stop();
    temp.cleanup();
  });

  it('relays every message once, sums the workers in /metrics, forks a killed worker again, and stops on SIGTERM', async () => {
    rx = await startRecordingSmtp();
    const opsPort = await freePort();
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      serve: { workers: 2 },
      domains: { 'corp.test': { smarthost: `127.0.0.1:${rx.port}`, verifyRecipients: 'off' } },
      queue: { pollIntervalMs: 200 },
      web: { enabled: false },
      ops: { enabled: true, port: opsPort },
    }, { cli: 'in-process' });
    const gw = gateway;
    const started = logLines(gw.output()).find((l) => l.msg === 'listener workers listening') as { pids: number[] } | undefined;
    expect(started?.pids).toHaveLength(2);
    expect(logLines(gw.output()).find((l) => l.msg === 'sealgate started')).toMatchObject({ workers: 2 });
    expect(await status(opsPort, '/readyz')).toBe(200);

    await sendBatch(gw.ports.inbound, 'first', CLIENTS, PER_CLIENT);
    const first = CLIENTS * PER_CLIENT;
    await until(() => rx!.transactions().length >= first, 60_000, `${first} deliveries`);
    // Each worker took sessions of its own: node:cluster hands connections round robin.
    const accepted = logLines(gw.output()).filter((l) => l.msg === 'message accepted');
    expect(accepted).toHaveLength(first);
    expect(new Set(accepted.map((l) => l.worker))).toEqual(new Set([0, 1]));
    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    expect(total(metrics, 'sealgate_smtp_sessions_total', { listener: 'inbound', event: 'opened' })).toBe(first);
    expect(total(metrics, 'sealgate_smtp_accept_seconds_count', { listener: 'inbound', result: 'accepted' })).toBe(first);

    // A listener worker dies: the gateway is unready until the primary has forked it again.
    const victim = started!.pids[0];
    process.kill(victim, 'SIGKILL');
    await until(async () => (await status(opsPort, '/readyz')) === 503, 10_000, '/readyz unready after a worker died');
    await until(async () => (await status(opsPort, '/readyz')) === 200, 45_000, '/readyz ready again');
    expect(logLines(gw.output()).some((l) => l.msg === 'listener worker died; forking it again' && l.pid === victim && l.signal === 'SIGKILL')).toBe(true);
    await sendBatch(gw.ports.inbound, 'second', CLIENTS, 2);
    const all = first + CLIENTS * 2;
    await until(() => rx!.transactions().length >= all, 60_000, `${all} deliveries`);
    // A moment for a duplicate to show, were there one.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const counts = receivedCounts(rx);
    expect(counts.size).toBe(all);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);

    // The primary's child processes now: the surviving worker and the one forked again.
    const pid = gw.child.pid!;
    const workerPids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    expect(workerPids).toHaveLength(2);
    expect(workerPids).toContain(started!.pids[1]);
    expect(workerPids).not.toContain(victim);
    await gw.kill('SIGTERM');
    expect(gw.child.exitCode).toBe(0);
    expect(logLines(gw.output()).at(-1)?.msg).toBe('stopped');
    for (const pid of workerPids) expect(alive(pid)).toBe(false);
    // Three processes appended to one hash chain (each worker its messages, the primary its
    // deliveries): it is still one intact chain.
    const verified = await gw.cli('audit', 'verify');
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  }, 180_000);
});
