import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDns, type DnsServer } from '../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { describeWithPeers } from '../helpers/peers.ts';
import { tempDir, until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 14 (attack pass): a relayed message's body key is kept in the gateway's memory for
 * 30 s (RecentKeys) so delivery need not read it back. `sealgate queue delete ID` runs in
 * another process: it deletes the rows and destroys the key file, and the message "goes".
 * A delivery that had already started (here: an MX slow to greet) then opened the body with
 * the remembered key and sent it anyway; with the key read from its file it cannot open
 * a destroyed key's body, and the message does not go out.
 */
const PASSWORD = 'correct horse battery staple';
const MX_IP = '127.0.0.181';

/** Accepts SMTP connections for the MX address and holds each, silent, until `release()`. */
async function startGreetingStall(ip: string, port: number, upstream: { host: string; port: number }) {
  const held: net.Socket[] = [];
  let released = false;
  const sockets = new Set<net.Socket>();
  const relay = (client: net.Socket) => {
    const server = net.connect(upstream.port, upstream.host);
    sockets.add(server);
    client.pipe(server).pipe(client);
    server.on('error', () => client.destroy());
  };
  const proxy = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    if (released) relay(client);
    else held.push(client);
  });
  await new Promise<void>((resolve) => proxy.listen(port, ip, resolve));
  return {
    connections: () => held.length,
    release() {
      released = true;
      held.splice(0).forEach(relay);
    },
    async stop() {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

describeWithPeers(['dnsmasq', 'swaks'], 'i14-32 `queue delete` of a message whose delivery has begun', () => {
  const temp = tempDir('i14-32');
  let dns: DnsServer;
  let rx: RecordingSmtp;
  let stall: Awaited<ReturnType<typeof startGreetingStall>>;
  let gateway: GatewayProcess;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);

  beforeAll(async () => {
    rx = await startRecordingSmtp({ host: '127.0.0.182' });
    stall = await startGreetingStall(MX_IP, rx.port, { host: rx.host, port: rx.port });
    dns = await startDns({ mx: [{ domain: 'dest.test', host: 'mx.dest.test', pref: 10 }], a: [{ name: 'mx.dest.test', ip: MX_IP }] });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      delivery: { dnsServers: dns.servers, port: rx.port, connectTimeoutMs: 2000, commandTimeoutMs: 30_000, ipFamilies: [4], mtaSts: { enabled: false } },
      queue: { retryScheduleMs: [500], pollIntervalMs: 100 },
      pickup: { whenNoTls: false },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await stall?.stop();
    await rx?.stop();
    await dns?.stop();
    temp.cleanup();
  });

  it('the deleted message is not sent by the attempt that was under way', { timeout: 60_000 }, async () => {
    const id = queuedId((await submit('bob@dest.test', ['--header', 'Subject: recalled', '--body', 'the figures we must not send'])).stdout);
    expect(id).not.toBe('');
    await until(() => stall.connections() > 0, 10_000, 'the delivery attempt connected to the MX');

    const deleted = await gateway.cli('queue', 'delete', id);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/deleted 1 message/);

    stall.release();
    // The attempt goes on (greeting, envelope, the body) and settles, whatever it sent.
    const settled = () => gateway.output().split('\n').some((line) => line.includes(id) && line.includes('delivery attempt settled'));
    await until(() => settled() || rx.transactions().length > 0, 15_000, 'the attempt under way settled');
    expect(rx.transactions().map((t) => t.data.toString('latin1')).filter((d) => d.includes('must not send')), 'bodies the receiver took after the delete').toEqual([]);
  });
});
