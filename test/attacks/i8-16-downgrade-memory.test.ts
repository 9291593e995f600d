import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestCa } from '../helpers/ca.ts';
import { startDns, type DnsServer } from '../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { describeWithPeers } from '../helpers/peers.ts';
import { tempDir, until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { startStripProxy, type StripProxy } from '../helpers/strip-proxy.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 8 item 16: the link-security memory must refuse a downgrade. held.test publishes no
 * policy (no DANE, no MTA-STS), so only the memory protects it. The first message goes over
 * TLS with a certificate valid for mx.held.test (level tls-verified). Then a STARTTLS stripper
 * takes the MX address. Before the fix the second message went in plaintext through the
 * stripper and the record fell to `none`.
 */
const PASSWORD = 'correct horse battery staple';
const MX_IP = '127.0.0.161';

describeWithPeers(['dnsmasq', 'swaks', 'openssl'], 'i8-16 STARTTLS stripping after a domain proved tls-verified', () => {
  const temp = tempDir('i8-16');
  let dns: DnsServer;
  let honest: RecordingSmtp;
  let behind: RecordingSmtp;
  let stripper: StripProxy | undefined;
  let gateway: GatewayProcess;
  let certificate: { key: string; cert: string };
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const show = async (id: string) => (await gateway.cli('queue', 'show', id)).stdout;

  beforeAll(async () => {
    const ca = await createTestCa(temp.dir);
    const issued = await ca.issue(['mx.held.test']);
    certificate = { key: issued.keyPem, cert: issued.certPem };
    honest = await startRecordingSmtp({ host: MX_IP, tls: certificate });
    dns = await startDns({ mx: [{ domain: 'held.test', host: 'mx.held.test', pref: 10 }], a: [{ name: 'mx.held.test', ip: MX_IP }] });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      delivery: { dnsServers: dns.servers, port: honest.port, extraCaFiles: [ca.caCertPath], connectTimeoutMs: 2000, ipFamilies: [4] },
      queue: { retryScheduleMs: [500], pollIntervalMs: 100 },
      pickup: { fallbackOnRequirement: false },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await stripper?.stop();
    await honest?.stop();
    await behind?.stop();
    await dns?.stop();
    temp.cleanup();
  });

  it('holds the domain to tls-verified: the stripped session is refused, deferred, and the record stays', async () => {
    // What the first session proved is checked at the end: only it could have earned tls-verified.
    await submit('hal@held.test', ['--header', 'Subject: first, over verified TLS']);
    await honest.until(1, 15_000);

    // The attacker takes the MX address: a stripper relaying to a receiver behind it.
    const port = honest.port;
    await honest.stop();
    behind = await startRecordingSmtp({ host: '127.0.0.162', tls: certificate });
    stripper = await startStripProxy({ ip: MX_IP, port, upstream: { host: '127.0.0.162', port: behind.port } });

    const second = queuedId((await submit('hal@held.test', ['--header', 'Subject: second, must not go in clear'])).stdout);
    const refusals = () => gateway.output().split('\n').filter((line) => line.includes('link-security downgrade refused')).length;
    await until(() => refusals() >= 2 || behind.transactions().length > 0, 15_000, 'the stripped attempt and its retry to be refused (or a delivery)');
    const [text, record] = await Promise.all([show(second), gateway.cli('domain', 'show', 'held.test')]);
    expect(text).not.toMatch(/delivered/);
    expect(text).toMatch(/451 4\.7\.5 .*reached link level 'none', but what mx\.held\.test proved before \(link-security memory/s);
    // The stripper saw the greeting exchange only: no envelope, no DATA, not a byte of the message.
    expect(stripper.clientBytes()).not.toMatch(/MAIL FROM|RCPT TO|DATA|must not go in clear/);
    expect(behind.transactions()).toHaveLength(0);
    // The weaker session did not lower what was proved, and the refusal raised an alert.
    expect(record.stdout).toMatch(/mx\.held\.test \[127\.0\.0\.161\] {2}level tls-verified\n\s+TLSv1\.3 .*certificate valid/);
    expect(gateway.output()).toMatch(/"alert":true[^\n]*downgrade refused/);
  });
});
