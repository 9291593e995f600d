import { readdirSync, rmSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDns, type DnsServer } from '../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { describeWithPeers } from '../helpers/peers.ts';
import { tempDir, until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 14 (attack pass): body keys are now written in place and remembered in memory. A
 * hostile environment cuts a queued message's key file short, or removes it, while the
 * gateway is down (a restore gone wrong, a full disk, an operator). After the restart the
 * message must not be reported delivered nor reach the receiver as garbage, and what the
 * admin reads (queue show, queue verify) must say what is wrong.
 */
const PASSWORD = 'correct horse battery staple';

describeWithPeers(['dnsmasq', 'swaks'], 'i14-33 a queued message whose key file is cut short or gone', () => {
  const temp = tempDir('i14-33');
  let dns: DnsServer;
  let rx: RecordingSmtp;
  let gateway: GatewayProcess;
  let accept = false;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const show = async (id: string) => (await gateway.cli('queue', 'show', id)).stdout;

  beforeAll(async () => {
    rx = await startRecordingSmtp({ host: '127.0.0.191', reply: (_line, stage) => (stage === 'rcpt' && !accept ? '451 4.3.0 Try again later' : undefined) });
    dns = await startDns({ mx: [{ domain: 'dest.test', host: 'mx.dest.test', pref: 10 }], a: [{ name: 'mx.dest.test', ip: rx.host }] });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      delivery: { dnsServers: dns.servers, port: rx.port, connectTimeoutMs: 2000, ipFamilies: [4], mtaSts: { enabled: false } },
      queue: { retryScheduleMs: [300], pollIntervalMs: 100 },
      pickup: { whenNoTls: false },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await rx?.stop();
    await dns?.stop();
    temp.cleanup();
  });

  it('neither message is delivered; queue show and queue verify say why', { timeout: 90_000 }, async () => {
    const cut = queuedId((await submit('bob@dest.test', ['--header', 'Subject: key cut short'])).stdout);
    const gone = queuedId((await submit('carol@dest.test', ['--header', 'Subject: key gone'])).stdout);
    expect(cut && gone).toBeTruthy();
    await until(async () => /451 4\.3\.0/.test(await show(cut)) && /451 4\.3\.0/.test(await show(gone)), 15_000, 'both tried and deferred');

    await gateway.kill();
    const keys = path.join(gateway.dir, 'data', 'queue-keys');
    const fileOf = (id: string) => path.join(keys, id.slice(0, 2), id);
    expect(readdirSync(path.dirname(fileOf(cut)))).toContain(cut);
    truncateSync(fileOf(cut), 20);
    rmSync(fileOf(gone));
    accept = true;
    await gateway.restart();

    // A few attempts' worth of time.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(rx.transactions(), 'nothing reached the receiver').toEqual([]);
    for (const [id, what] of [[cut, 'damaged'], [gone, 'missing']]) {
      const text = await show(id);
      expect(text, id).not.toMatch(/delivered/);
      // What the admin reads names the cause (it said "wrong master key or damaged file", or
      // "sealed value fails authentication").
      expect(text, id).toContain(`the body key of message ${id} is ${what}`);
    }
    expect(gateway.child.exitCode, 'the gateway still runs').toBeNull();
    const verify = await gateway.cli('queue', 'verify');
    expect(verify.code, verify.stdout).not.toBe(0);
    expect(verify.stdout + verify.stderr).toContain(cut);
    expect(verify.stdout + verify.stderr).toContain(gone);
  });
});
