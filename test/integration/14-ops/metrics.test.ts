import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../../helpers/attack-rig.ts';
import { sendMessage } from '../../helpers/cluster.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { createTestSchema, hasPostgres, POSTGRES_URL, type TestSchema } from '../../helpers/stores.ts';

/** `name{labels} value` lines of an exposition, as a map from the series to its value. */
function series(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** The sum of every series of `name` whose labels include all of `labels`. */
function total(all: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, value] of all) {
    const brace = key.indexOf('{');
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

async function get(port: number, pathname: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}

describe('admin listener: /metrics shows what a scenario did, /healthz and /readyz', async () => {
  const opsPort = await freePort();
  const deadPort = await freePort(); // nothing listens: mail for slow.test is deferred
  const rig = gatewayWithSmarthost({
    prefix: 'sealgate-ops-',
    domains: (smarthost) => ({ 'corp.test': { smarthost, verifyRecipients: 'off' }, 'slow.test': { smarthost: `127.0.0.1:${deadPort}`, verifyRecipients: 'off' } }),
    // Delivery in its own thread: the scrape merges two registries.
    config: { ops: { enabled: true, port: opsPort }, delivery: { thread: true } },
  });

  it('counts sessions, accepts, deliveries by result and link, deferrals by reason, and the queue by state', async () => {
    for (const n of [1, 2, 3]) expect((await sendMessage(rig.gateway.ports.inbound, `m${n}`, { recipients: ['box@corp.test'] })).acked).toBe(true);
    expect((await sendMessage(rig.gateway.ports.inbound, 'late', { recipients: ['box@slow.test'] })).acked).toBe(true);
    await until(() => rig.rx.transactions().length === 3, 30_000, 'three deliveries to the smarthost');

    let metrics = new Map<string, number>();
    await until(async () => {
      metrics = series((await get(opsPort, '/metrics')).body);
      return total(metrics, 'sealgate_deferrals_total') === 1 && total(metrics, 'sealgate_deliveries_total', { result: 'delivered' }) === 3;
    }, 30_000, 'the deferral and the deliveries in /metrics');
    expect(total(metrics, 'sealgate_smtp_sessions_total', { listener: 'inbound', event: 'opened' })).toBe(4);
    expect(total(metrics, 'sealgate_smtp_accept_seconds_count', { listener: 'inbound', result: 'accepted' })).toBe(4);
    expect(total(metrics, 'sealgate_deliveries_total', { result: 'deferred' })).toBe(1);
    expect(total(metrics, 'sealgate_deferrals_total', { reason: 'unreachable' })).toBe(1);
    // The delivery thread's figures carry its label; the main thread's event loop is measured too.
    expect(total(metrics, 'sealgate_deliveries_total', { thread: 'delivery' })).toBe(4);
    for (const thread of ['main', 'delivery']) expect(metrics.has(`sealgate_nodejs_eventloop_lag_seconds{thread="${thread}"}`)).toBe(true);
    expect(total(metrics, 'sealgate_queue_recipients', { state: 'queued' })).toBe(1);
    expect(total(metrics, 'sealgate_queue_messages')).toBe(1);

    expect((await rig.gateway.cli('queue', 'hold', '--domain', 'slow.test')).code).toBe(0);
    metrics = series((await get(opsPort, '/metrics')).body);
    expect(total(metrics, 'sealgate_queue_recipients', { state: 'held' })).toBe(1);
    expect(total(metrics, 'sealgate_queue_recipients', { state: 'queued' })).toBe(0);
  }, 90_000);

  it('speaks the Prometheus text format, answers health and readiness, and refuses what it does not serve', async () => {
    const scrape = await get(opsPort, '/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.type).toMatch(/^text\/plain; version=0\.0\.4/);
    // One HELP and TYPE per family, even with two threads reporting it.
    const types = scrape.body.split('\n').filter((l) => l.startsWith('# TYPE sealgate_deliveries_total '));
    expect(types).toHaveLength(1);
    expect(await get(opsPort, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    const ready = await get(opsPort, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ ready: true, checks: expect.arrayContaining([{ name: 'store', ok: true }, { name: 'listener inbound', ok: true }, { name: 'delivery', ok: true }]) });
    expect((await get(opsPort, '/etc/passwd')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${opsPort}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
  });
});

/** A TCP relay to PostgreSQL that the test can cut, as if the database server stopped. */
async function databaseLink(port: number): Promise<{ stop(): Promise<void>; start(): Promise<void> }> {
  const target = new URL(POSTGRES_URL);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const start = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  await start();
  return {
    start,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server!.close(() => resolve());
      }),
  };
}

describe('readiness follows the database', async () => {
  const available = await hasPostgres();
  const temp = tempDir('sealgate-readyz-');
  let schema: TestSchema | undefined;
  let gateway: GatewayProcess | undefined;
  afterAll(async () => {
    await gateway?.kill();
    await schema?.drop();
    temp.cleanup();
  });

  it.skipIf(!available)('/readyz goes unready (503, naming the store) while PostgreSQL is unreachable, and ready again after', async () => {
    schema = await createTestSchema('readyz');
    const linkPort = await freePort();
    const link = await databaseLink(linkPort);
    const url = new URL(schema.url);
    url.host = `127.0.0.1:${linkPort}`;
    const opsPort = await freePort();
    gateway = await startGateway(path.join(temp.dir, 'gw'), { store: { url: url.toString() }, web: { enabled: false }, ops: { enabled: true, port: opsPort } });
    expect((await get(opsPort, '/readyz')).status).toBe(200);

    await link.stop();
    const down = await get(opsPort, '/readyz');
    expect(down.status).toBe(503);
    const report = JSON.parse(down.body) as { ready: boolean; checks: { name: string; ok: boolean; detail?: string }[] };
    expect(report.ready).toBe(false);
    expect(report.checks.find((c) => c.name === 'store')).toMatchObject({ ok: false, detail: expect.stringMatching(/database/) });
    expect((await get(opsPort, '/healthz')).status).toBe(200); // alive, just not ready

    await link.start();
    await until(async () => (await get(opsPort, '/readyz')).status === 200, 20_000, '/readyz ready again');
    expect(gateway.child.exitCode).toBeNull();
  }, 90_000);
});
