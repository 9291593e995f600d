import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { tempDir } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 8 item 10: 2,000 idle connections from 100 loopback addresses filled the inbound
 * listener; a client trickling one byte every 4 s kept its slot for the whole session cap.
 * Now the node's SMTP slots are shared with a share reserved for submission, each network has
 * its own cap, and the idle timers move only with a complete line or enough bytes, with
 * shorter limits before MAIL / AUTH. Short limits here keep the test fast.
 */
const LIMITS = {
  maxConnections: 120, reservedSubmissionConnections: 20, maxConnectionsPerIp: 20,
  idleTimeoutMs: 4000, preMailIdleTimeoutMs: 4000, preMailSessionTimeoutMs: 7000, minRateBytes: 64,
};

const PASSWORD = 'correct horse battery staple';

interface Held {
  socket: net.Socket;
  /** The first reply line, '' while none came. */
  greeting: string;
  closed: boolean;
}

function hold(port: number, localAddress: string): Held {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  const held: Held = { socket, closed: false, greeting: '' };
  let text = '';
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    if (!held.greeting && text.includes('\r\n')) held.greeting = text.split('\r\n')[0];
  });
  socket.on('close', () => (held.closed = true));
  socket.on('error', () => undefined);
  return held;
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

describe('i8-10 connection slots, per-network caps and a minimum rate', () => {
  const temp = tempDir('i8-10');
  let gateway: GatewayProcess;

  beforeAll(async () => {
    gateway = await startGateway(temp.dir, { limits: LIMITS });
    const added = await gateway.cli('user', 'add', 'alice@example.test', '--password', PASSWORD);
    expect(added.code, added.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await gateway?.kill();
    temp.cleanup();
  });

  it('2,000 idle inbound connections from 100 addresses cannot take the slots submission needs', async () => {
    const held: Held[] = [];
    for (let i = 0; i < 2000; i++) held.push(hold(gateway.ports.inbound, `127.0.1.${1 + (i % 100)}`));
    const greeted = () => held.filter((h) => h.greeting.startsWith('220 ') && !h.closed).length;
    // (Connections past the kernel's accept backlog wait there; they hold no slot of ours.)
    await until(() => greeted() >= LIMITS.maxConnections - LIMITS.reservedSubmissionConnections, 8000);
    expect(greeted()).toBe(LIMITS.maxConnections - LIMITS.reservedSubmissionConnections);
    // A stranger from a fresh address finds inbound full.
    const late = hold(gateway.ports.inbound, '127.0.3.1');
    await until(() => late.greeting !== '', 5000);
    expect(late.greeting).toMatch(/^421 4\.7\.0 /);
    // Our users still get in while inbound is full: the reserved share is theirs.
    const submitters = await Promise.all(Array.from({ length: 10 }, (_, i) => RawSmtp.connect(gateway.ports.submission, { localAddress: `127.0.2.${1 + i}` })));
    for (const s of submitters) {
      expect(s.greeting).toMatch(/^220 /);
      expect(await s.command('EHLO client.test')).toMatch(/^250/);
      s.close();
    }
    expect(greeted()).toBeLessThanOrEqual(LIMITS.maxConnections - LIMITS.reservedSubmissionConnections);
    const refused = () => held.filter((h) => h.greeting.startsWith('421 4.7.0 ')).length;
    await until(() => refused() >= 1000, 10_000);
    expect(refused()).toBeGreaterThanOrEqual(1000);
    for (const h of [...held, late]) h.socket.destroy();
  }, 30_000);

  it('a one-byte-at-a-time trickle is dropped by the idle timer; a NOOP trickle by the pre-MAIL limit', async () => {
    // Until the gateway has seen the flood above go, new sessions may still find it full.
    const greeted = async (localAddress: string) => {
      for (let i = 0; ; i++) {
        const client = await RawSmtp.connect(gateway.ports.inbound, { localAddress });
        if (client.greeting.startsWith('220 ') || i === 50) return client;
        client.close();
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const bytes = await greeted('127.0.4.1');
    const lines = await greeted('127.0.4.2');
    const started = Date.now();
    let stop = false;
    const trickle = (async () => {
      let i = 0;
      while (!stop) {
        // One byte every 400 ms: never a whole line for the first client; NOOP lines for the second.
        if (!bytes.closed) bytes.write(Buffer.from('X'));
        if (!lines.closed) lines.write(Buffer.from('NOOP\r\n'[i % 6]));
        i++;
        await new Promise((r) => setTimeout(r, 400));
      }
    })();
    const first = await bytes.reply(15_000);
    const firstAt = Date.now() - started;
    const noops: string[] = [];
    for (;;) {
      const reply = await lines.reply(15_000);
      noops.push(reply);
      if (!reply.startsWith('250')) break;
    }
    const secondAt = Date.now() - started;
    stop = true;
    await trickle;
    expect(first).toBe('421 4.4.2 Too slow: no complete command or data within the time limit; closing');
    expect(firstAt).toBeLessThan(LIMITS.preMailIdleTimeoutMs + 2000);
    expect(noops.at(-1)).toBe('421 4.4.2 Too long without starting a transaction; closing');
    expect(secondAt).toBeLessThan(LIMITS.preMailSessionTimeoutMs + 2000);
    bytes.close();
    lines.close();
  }, 30_000);

  it('a message body trickled below the minimum rate is dropped, though every byte arrives', async () => {
    const client = await RawSmtp.connect(gateway.ports.submission, { localAddress: '127.0.5.1' });
    await client.command('EHLO client.test');
    await client.startTls();
    await client.command('EHLO client.test');
    expect(await client.command(`AUTH PLAIN ${Buffer.from('\0alice@example.test\0' + PASSWORD).toString('base64')}`)).toMatch(/^235 /);
    expect(await client.command('MAIL FROM:<alice@example.test>')).toMatch(/^250 /);
    expect(await client.command('RCPT TO:<bob@dest.example>')).toMatch(/^250 /);
    expect(await client.command('DATA')).toMatch(/^354 /);
    const started = Date.now();
    let stop = false;
    const trickle = (async () => {
      // Short lines, one byte every 200 ms: 20 bytes per idle limit where 64 are the minimum.
      for (let i = 0; !stop && !client.closed; i++) {
        client.write(Buffer.from('ab\r\n'[i % 4]));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const reply = await client.reply(15_000);
    stop = true;
    await trickle;
    expect(reply).toBe('421 4.4.2 Too slow: no complete command or data within the time limit; closing');
    expect(Date.now() - started).toBeLessThan(LIMITS.idleTimeoutMs + 2500);
    client.close();
  }, 30_000);
});
