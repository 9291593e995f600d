import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { tempDir } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';

/*
 * Issue 8 item 4 (follow-up): recipient-verification probes in flight were not capped, so 20
 * connections x 100 RCPTs of unique addresses opened up to 2,000 simultaneous probe
 * connections to the smarthost. Now a node has at most `maxConcurrentProbes` in flight
 * (identical ones share one), answers `450 4.4.5` past it, and probes at most
 * `maxRcptProbesPerSession` unique addresses per client connection.
 */
const MAX_PROBES = 3;
const PER_SESSION = 5;

/** In front of the recorder: counts simultaneous connections and makes every reply slow. */
async function slowCountingProxy(target: number): Promise<{ port: number; open(): number; peak(): number; stop(): Promise<void> }> {
  let open = 0;
  let peak = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open++;
    peak = Math.max(peak, open);
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => setTimeout(() => client.write(d), 250));
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      open--;
      setTimeout(() => (client.destroy(), upstream.destroy()), 250);
    };
    client.on('close', close);
    upstream.on('close', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => open,
    peak: () => peak,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('i8-04 recipient probes are capped and coalesced', () => {
  const temp = tempDir('i8-04-amp');
  let box: RecordingSmtp;
  let proxy: Awaited<ReturnType<typeof slowCountingProxy>>;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    box = await startRecordingSmtp();
    proxy = await slowCountingProxy(box.port);
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'corp.test': { smarthost: `127.0.0.1:${proxy.port}` } },
      recipientVerification: { probeTimeoutMs: 5000, maxConcurrentProbes: MAX_PROBES, maxRcptProbesPerSession: PER_SESSION },
      web: { enabled: false },
    });
  }, 90_000);

  afterAll(async () => {
    await gateway?.kill();
    await proxy?.stop();
    await box?.stop();
    temp.cleanup();
  });

  it('many parallel RCPTs of unique addresses never open more than the cap of probe connections', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => RawSmtp.connect(gateway.ports.inbound, { localAddress: `127.0.7.${1 + i}` })));
    const replies = await Promise.all(
      clients.map(async (client, i) => {
        await client.command('EHLO sender.example');
        expect(await client.command('MAIL FROM:<someone@elsewhere.example>')).toMatch(/^250/);
        const answers: string[] = [];
        for (let j = 0; j < 4; j++) answers.push(await client.command(`RCPT TO:<user${i}-${j}@corp.test>`));
        client.close();
        return answers;
      }),
    );
    const all = replies.flat();
    expect(proxy.peak()).toBeLessThanOrEqual(MAX_PROBES);
    // Past the cap: try again later (RFC 3463 4.4.5 system congestion), never an unbounded queue.
    expect(all.some((r) => r.startsWith('450 4.4.5 '))).toBe(true);
    expect(all.every((r) => r.startsWith('250') || r.startsWith('450 4.4.5 '))).toBe(true);
  }, 30_000);

  it('one connection probes at most maxRcptProbesPerSession unique addresses', async () => {
    const client = await RawSmtp.connect(gateway.ports.inbound, { localAddress: '127.0.8.1' });
    await client.command('EHLO sender.example');
    expect(await client.command('MAIL FROM:<someone@elsewhere.example>')).toMatch(/^250/);
    const answers: string[] = [];
    for (let j = 0; j < PER_SESSION + 2; j++) answers.push(await client.command(`RCPT TO:<solo-${j}@corp.test>`));
    client.close();
    expect(answers.slice(0, PER_SESSION).every((r) => r.startsWith('250'))).toBe(true);
    expect(answers.slice(PER_SESSION).every((r) => r.startsWith('450 4.4.5 '))).toBe(true);
    // The extra addresses were never asked about.
    const asked = box.commands().map((c) => c.toString('latin1')).filter((c) => /^RCPT TO:<solo-/i.test(c));
    expect(asked).toHaveLength(PER_SESSION);
  }, 30_000);
});
