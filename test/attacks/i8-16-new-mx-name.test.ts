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
 * Issue 8 item 16, the way around it: an MX name with no record of its own is held to the
 * weakest level the domain's other MX hosts proved. But the refused session itself was
 * recorded as that host's own level (`none`), so the very next retry held the host to `none`
 * and sent the message in plaintext. Here mx.held.test proved tls-verified; then it is down and
 * a plaintext host the memory never saw (mx2.held.test, reached on the same port through a
 * forwarding proxy) takes the mail: it must be refused on every retry, not only the first.
 */
const PASSWORD = 'correct horse battery staple';
const MX_IP = '127.0.0.181';
const MX2_IP = '127.0.0.182';

describeWithPeers(['dnsmasq', 'swaks', 'openssl'], 'i8-16 a new MX name cannot earn a lower level by being refused', () => {
  const temp = tempDir('i8-16-new-mx');
  let dns: DnsServer;
  let honest: RecordingSmtp;
  let plain: RecordingSmtp;
  let front: StripProxy | undefined;
  let gateway: GatewayProcess;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const show = async (id: string) => (await gateway.cli('queue', 'show', id)).stdout;

  beforeAll(async () => {
    const ca = await createTestCa(temp.dir);
    const issued = await ca.issue(['mx.held.test']);
    honest = await startRecordingSmtp({ host: MX_IP, tls: { key: issued.keyPem, cert: issued.certPem } });
    plain = await startRecordingSmtp({ host: '127.0.0.183' });
    dns = await startDns({
      mx: [{ domain: 'held.test', host: 'mx.held.test', pref: 10 }, { domain: 'held.test', host: 'mx2.held.test', pref: 20 }],
      a: [{ name: 'mx.held.test', ip: MX_IP }, { name: 'mx2.held.test', ip: MX2_IP }],
    });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      delivery: { dnsServers: dns.servers, port: honest.port, extraCaFiles: [ca.caCertPath], connectTimeoutMs: 1000, ipFamilies: [4] },
      queue: { retryScheduleMs: [300], pollIntervalMs: 100 },
      pickup: { fallbackOnRequirement: false },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await front?.stop();
    await honest?.stop();
    await plain?.stop();
    await dns?.stop();
    temp.cleanup();
  });

  it('every retry to the never-seen plaintext MX is refused; nothing reaches it', async () => {
    await submit('hal@held.test', ['--header', 'Subject: first, over verified TLS']);
    await honest.until(1, 15_000);
    const port = honest.port;
    await honest.stop();
    front = await startStripProxy({ ip: MX2_IP, port, upstream: { host: plain.host, port: plain.port } });

    const second = queuedId((await submit('hal@held.test', ['--header', 'Subject: second, must not go in clear'])).stdout);
    expect(second).not.toBe('');
    const refusals = () => gateway.output().split('\n').filter((line) => line.includes('link-security downgrade refused')).length;
    await until(() => refusals() >= 3 || plain.transactions().length > 0, 15_000, 'three refused attempts (or a plaintext delivery)');
    expect(plain.transactions()).toHaveLength(0);
    expect(await show(second)).not.toMatch(/delivered/);
    expect(front.clientBytes()).not.toMatch(/MAIL FROM|RCPT TO|must not go in clear/);
  });
});
