import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDns, type DnsServer } from '../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { describeWithPeers } from '../helpers/peers.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { tempDir, until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { authenticatedSession } from '../helpers/smtp-session.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 14 (attack pass): busy_timeout is 0 and the gateway waits for another writer's lock
 * off the event loop, for up to 5 s. Another process (here: this test, as a CLI command or a
 * backup tool would) takes SQLite's write lock and keeps it 8 s while the gateway relays:
 * the end of DATA must get a 4xx in time (not a 250 for what was not stored, not a hang
 * until the lock goes), new clients must still get their greeting at once, and after the
 * lock goes nothing is lost: the message that was in flight is delivered, a new one is taken.
 */
const PASSWORD = 'correct horse battery staple';
const USER = 'alice@sender.test';
const HOLD_MS = 8000;

describeWithPeers(['dnsmasq', 'swaks'], 'i14-31 another process holds the write lock for seconds', () => {
  const temp = tempDir('i14-31');
  let dns: DnsServer;
  let rx: RecordingSmtp;
  let gateway: GatewayProcess;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const show = async (id: string) => (await gateway.cli('queue', 'show', id)).stdout;
  const subjects = () => rx.transactions().map((t) => /Subject: (.*)\r\n/.exec(t.data.toString('latin1'))?.[1]);

  beforeAll(async () => {
    rx = await startRecordingSmtp();
    dns = await startDns({ mx: [{ domain: 'dest.test', host: 'mx.dest.test', pref: 10 }], a: [{ name: 'mx.dest.test', ip: rx.host }] });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      delivery: { dnsServers: dns.servers, port: rx.port, connectTimeoutMs: 2000, ipFamilies: [4], mtaSts: { enabled: false } },
      queue: { retryScheduleMs: [500], pollIntervalMs: 100 },
      pickup: { whenNoTls: false },
    });
    expect((await gateway.cli('user', 'add', USER, '--password', PASSWORD)).code).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await rx?.stop();
    await dns?.stop();
    temp.cleanup();
  });

  it('answers 4xx within the wait, keeps greeting, loses nothing, and recovers', { timeout: 90_000 }, async () => {
    // Logged in before the lock is taken (the login budget is a write of its own).
    const client = await authenticatedSession(gateway.ports.submission, USER, PASSWORD);
    const inFlight = queuedId((await submit('bob@dest.test', ['--header', 'Subject: in flight'])).stdout);
    expect(inFlight).not.toBe('');

    const holder = new Database(path.join(gateway.dir, 'data', 'sealgate.db'), { fileMustExist: true });
    holder.pragma('busy_timeout = 5000');
    holder.exec('BEGIN IMMEDIATE');
    const heldAt = Date.now();
    const released = new Promise<void>((resolve) => setTimeout(() => {
      holder.exec('COMMIT');
      holder.close();
      resolve();
    }, HOLD_MS));
    try {
      expect(await client.command(`MAIL FROM:<${USER}>`)).toMatch(/^250/);
      expect(await client.command('RCPT TO:<carol@dest.test>')).toMatch(/^250/);
      const reply = sendDataSlow(client, 'Subject: during the lock\r\nFrom: alice@sender.test\r\n\r\nheld\r\n').then((r) => ({ r, at: Date.now() - heldAt }));
      // Two seconds into the wait, a new client is greeted at once: the event loop is free.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const connectAt = Date.now();
      const probe = await RawSmtp.connect(gateway.ports.inbound);
      const greetingMs = Date.now() - connectAt;
      probe.close();
      const { r, at } = await reply;
      expect(r, `the end of DATA while the lock is held elsewhere (after ${at} ms)`).toMatch(/^4\d\d /);
      expect(at, 'answered before the lock went (the wait is bounded)').toBeLessThan(HOLD_MS);
      expect(probe.greeting).toMatch(/^220/);
      expect(greetingMs, 'greeting during the wait').toBeLessThan(1000);
    } finally {
      await released;
    }

    // After the lock: a new message is taken and delivered, the one in flight arrives.
    const after = queuedId((await submit('dave@dest.test', ['--header', 'Subject: after the lock'])).stdout);
    expect(after).not.toBe('');
    await until(async () => subjects().includes('after the lock') && subjects().includes('in flight'), 20_000, 'both messages delivered');
    await until(async () => /delivered/.test(await show(inFlight)), 10_000, 'the in-flight message settled as delivered');
    expect(subjects(), 'the refused message was not delivered').not.toContain('during the lock');
    expect(gateway.child.exitCode).toBeNull();
    expect(gateway.output()).not.toMatch(/uncaught|unhandled/i);
  });
});

/** smtp-session's sendData, with a reply wait longer than the hold (a 250 after the lock shows). */
async function sendDataSlow(client: RawSmtp, message: string): Promise<string> {
  expect(await client.command('DATA')).toMatch(/^354/);
  client.write(Buffer.from(`${message}\r\n.\r\n`));
  return client.reply(HOLD_MS + 30_000);
}
