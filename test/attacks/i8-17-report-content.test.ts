import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDns, type DnsServer } from '../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { describeWithPeers } from '../helpers/peers.ts';
import { tempDir } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { submitAs } from '../helpers/swaks.ts';

/*
 * Issue 8 item 17 (and item 4's "a bounce never carries the full body"). One recording
 * receiver plays every remote server: the smarthost of local.test (it refuses each message at
 * the end of DATA, after RCPT was fine), the MX of remote.test, far.test and sender.test.
 *  - A stranger sends inbound mail with RET=FULL from a forged remote.test sender: before the
 *    fix the bounce carried the whole body to that address (backscatter of the content).
 *  - alice submits with `Sealgate-Require: tls-verified` to far.test, whose MX has no TLS:
 *    before the fix the 5.7.10 bounce carried the message's headers (its Subject) back over
 *    plaintext. Now it is redacted to Message-ID and Date.
 */
const PASSWORD = 'correct horse battery staple';
const IP = '127.0.0.171';

describeWithPeers(['dnsmasq', 'swaks'], 'i8-17 what a bounce carries', () => {
  const temp = tempDir('i8-17');
  let dns: DnsServer;
  let rx: RecordingSmtp;
  let gateway: GatewayProcess;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const bounces = () => rx.transactions().filter((t) => t.mailFrom.toString('latin1').startsWith('<>'));

  beforeAll(async () => {
    rx = await startRecordingSmtp({
      host: IP,
      // The smarthost accepts the recipient, then refuses the content: a failure after acceptance.
      // (A report quoting those headers is taken: it is the multipart/report the test reads.)
      reply: (data, stage) =>
        stage === 'dot' && data.includes(Buffer.from('X-Refuse-Me: yes')) && !data.includes(Buffer.from('multipart/report')) ? '554 5.7.1 content refused by the mailbox server' : undefined,
    });
    dns = await startDns({
      mx: ['remote.test', 'far.test', 'sender.test'].map((domain) => ({ domain, host: 'mx.world.test', pref: 10 })),
      a: [{ name: 'mx.world.test', ip: IP }],
    });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'local.test': { smarthost: `${IP}:${rx.port}` } },
      delivery: { dnsServers: dns.servers, port: rx.port, connectTimeoutMs: 2000, ipFamilies: [4] },
      queue: { retryScheduleMs: [500], pollIntervalMs: 100 },
      pickup: { fallbackOnRequirement: false },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await rx?.stop();
    await dns?.stop();
    temp.cleanup();
  });

  it('returns headers only, even for RET=FULL, and nothing of a message that required a protected link', async () => {
    const c = await RawSmtp.connect(gateway.ports.inbound);
    await c.command('EHLO stranger.test');
    expect(await c.command('MAIL FROM:<forged@remote.test> RET=FULL')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<user@local.test>')).toMatch(/^250/);
    expect(await c.command('DATA')).toMatch(/^354/);
    c.write(Buffer.from('Subject: inbound for a local user\r\nX-Refuse-Me: yes\r\n\r\nINBOUND-BODY-MARKER confidential body\r\n.\r\n'));
    expect(await c.reply()).toMatch(/^250/);
    await c.command('QUIT');

    await submit('fay@far.test', ['--header', 'Subject: merger plans, tls-verified only', '--add-header', 'Sealgate-Require: tls-verified', '--body', 'SUBMITTED-BODY-MARKER']);
    await rx.until(2, 20_000); // only the two bounces complete: the smarthost refuses, far.test is never given the message
    const toForged = bounces().find((t) => t.rcptTo.some((r) => r.toString('latin1').includes('forged@remote.test')));
    const toAlice = bounces().find((t) => t.rcptTo.some((r) => r.toString('latin1').includes('alice@sender.test')));
    expect(toForged && toAlice).toBeTruthy();

    const inboundReport = toForged!.data.toString('utf8');
    expect(inboundReport).toMatch(/Content-Type: text\/rfc822-headers/);
    expect(inboundReport).toMatch(/Subject: inbound for a local user/);
    expect(inboundReport).not.toMatch(/message\/rfc822|INBOUND-BODY-MARKER/);

    const redacted = toAlice!.data.toString('utf8');
    expect(redacted).toMatch(/Status: 5\.7\.10/);
    expect(redacted).toMatch(/Content-Type: text\/rfc822-headers/);
    expect(redacted).toMatch(/Message-ID: <[^>]+>/);
    expect(redacted).not.toMatch(/merger plans|SUBMITTED-BODY-MARKER|Sealgate-Require/);
    // Nothing of the submitted message went to far.test's plaintext MX either.
    expect(rx.bytes().toString('latin1')).not.toMatch(/SUBMITTED-BODY-MARKER/);
  });
});
