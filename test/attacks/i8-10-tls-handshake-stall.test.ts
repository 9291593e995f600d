import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { tempDir } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 8 item 10, second attack: on the implicit-TLS submission port a socket is no SMTP
 * session until its TLS handshake completes, so neither the per-network cap nor the progress
 * deadline saw it. smtp-server's own guard is a socket timeout (the 5-minute idle limit) that
 * any byte resets, over a pool of `maxConnections` pending sockets shared by everyone: one
 * stranger's address that opened that many connections and trickled a byte of ClientHello
 * now and then locked every user out of submission.
 */
const LIMITS = {
  maxConnections: 40, reservedSubmissionConnections: 10, maxConnectionsPerIp: 5,
  idleTimeoutMs: 20_000, preMailIdleTimeoutMs: 1500, preMailSessionTimeoutMs: 3000, minRateBytes: 64,
};
const PASSWORD = 'correct horse battery staple';

describe('i8-10 stalled TLS handshakes on the implicit-TLS port', () => {
  const temp = tempDir('i8-10t');
  let gateway: GatewayProcess;

  beforeAll(async () => {
    gateway = await startGateway(path.join(temp.dir, 'gw'), { limits: LIMITS, web: { enabled: false } });
    expect((await gateway.cli('user', 'add', 'alice@corp.test', '--password', PASSWORD)).code).toBe(0);
  }, 90_000);

  afterAll(async () => {
    await gateway?.kill();
    temp.cleanup();
  });

  it('caps pending handshakes per network and ends them on a deadline bytes do not move; users still get in', async () => {
    const held = Array.from({ length: LIMITS.maxConnections }, () => {
      const socket = net.connect({ port: gateway.ports.submissionTls, host: '127.0.0.1', localAddress: '127.0.0.2' });
      const state = { socket, closedAt: 0 };
      socket.on('close', () => (state.closedAt = Date.now()));
      socket.on('error', () => undefined);
      return state;
    });
    const start = Date.now();
    // A TLS record header, one byte at a time: never a ClientHello.
    const header = [0x16, 0x03, 0x01, 0x02, 0x00];
    let sent = 0;
    const trickle = setInterval(() => {
      for (const h of held) if (!h.closedAt) h.socket.write(Buffer.from([header[sent % header.length]]));
      sent++;
    }, 300);
    try {
      await new Promise((r) => setTimeout(r, 500));
      const client = await RawSmtp.connect(gateway.ports.submissionTls, { implicitTls: true, localAddress: '127.0.0.3' });
      expect(client.greeting).toMatch(/^220 /);
      await client.command('EHLO client.test');
      expect(await client.command(`AUTH PLAIN ${Buffer.from(`\0alice@corp.test\0${PASSWORD}`).toString('base64')}`)).toMatch(/^235/);
      // An established session is no pending handshake: the deadline does not end it.
      await new Promise((r) => setTimeout(r, LIMITS.preMailIdleTimeoutMs + 300));
      expect(await client.command('NOOP')).toMatch(/^250/);
      client.close();
      // Over the per-network cap: dropped at once.
      expect(held.filter((h) => h.closedAt).length).toBeGreaterThanOrEqual(LIMITS.maxConnections - LIMITS.maxConnectionsPerIp);
      // The rest end on the pre-authentication deadline, trickle or not.
      const deadline = Date.now() + 6000;
      while (held.some((h) => !h.closedAt) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(held.filter((h) => !h.closedAt)).toHaveLength(0);
      expect(Math.max(...held.map((h) => h.closedAt)) - start).toBeLessThan(LIMITS.preMailIdleTimeoutMs + 2500);
    } finally {
      clearInterval(trickle);
      for (const h of held) h.socket.destroy();
    }
  }, 30_000);
});
