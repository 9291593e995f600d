/**
 * Key discovery at delivery (issue 11 "Discovery"): a sender asks for encryption to a recipient
 * the key store knows nothing of; delivery finds the recipient's key in their domain's Web Key
 * Directory (HTTPS with the test CA, names from a real dnsmasq), encrypts to it, and `gpg` with
 * the recipient's secret key reads the copy. A recipient who publishes no key is never sent
 * plaintext: the message is held for pickup and the receipt says why.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { wkdLocation } from '../../../src/e2e/index.ts';
import { createTestCa } from '../../helpers/ca.ts';
import { startDns, type DnsServer } from '../../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../../helpers/recording-smtp.ts';
import { queuedId, submitAs } from '../../helpers/swaks.ts';
import { startWkdServer, type WkdServer } from '../../helpers/wkd-server.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const PASSWORD = 'correct horse battery staple';
const SECRET = 'The lab results are in.';

describeWithPeers(['swaks', 'gpg', 'dnsmasq'], '19-e2e-outbound: the recipient key found in WKD at delivery', () => {
  const temp = tempDir('e2e-wkd-delivery');
  const danHome = path.join(temp.dir, 'gnupg-dan');
  let server: WkdServer;
  let dns: DnsServer;
  let rx: RecordingSmtp;
  let gateway: GatewayProcess;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const gpg = (args: string[], input?: Buffer) => spawnSync('gpg', ['--homedir', danHome, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { input });
  const show = async (id: string) => (await gateway.cli('queue', 'show', id)).stdout;

  beforeAll(async () => {
    mkdirSync(danHome, { mode: 0o700 });
    expect(gpg(['--quick-gen-key', 'Dan <dan@partner.test>', 'future-default', 'default', '0']).status).toBe(0);
    const ca = await createTestCa(temp.dir);
    server = await startWkdServer(ca, ['openpgpkey.partner.test']);
    server.served.set(`openpgpkey.partner.test${wkdLocation('dan@partner.test').advancedPath}`, gpg(['--export', 'dan@partner.test']).stdout);
    dns = await startDns({ a: [{ name: 'openpgpkey.partner.test', ip: '127.0.0.1' }] });
    rx = await startRecordingSmtp();
    const webPort = await freePort();
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'partner.test': { smarthost: `127.0.0.1:${rx.port}`, verifyRecipients: 'off' }, 'sender.test': { smarthost: `127.0.0.1:${rx.port}`, verifyRecipients: 'off' } },
      delivery: { dnsServers: dns.servers, extraCaFiles: [ca.caCertPath], mtaSts: { enabled: false } },
      queue: { retryScheduleMs: [60_000], pollIntervalMs: 100 },
      web: { host: '127.0.0.1', port: webPort, publicUrl: `https://127.0.0.1:${webPort}` },
      e2e: { wkd: { port: server.port } },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await rx?.stop();
    await dns?.stop();
    server?.close();
    spawnSync('gpgconf', ['--homedir', danHome, '--kill', 'all']);
    temp.cleanup();
  });

  it('finds the key in WKD, encrypts to it, and the recipient reads the copy', async () => {
    expect((await gateway.cli('keys', 'list')).stdout).not.toContain('dan@partner.test');
    const sent = await submit('dan@partner.test', ['--header', 'Subject: Results', '--header', 'Sealgate-Encrypt: pgp', '--body', SECRET]);
    const id = queuedId(sent.stdout);
    expect(id, sent.stdout).not.toBe('');
    await until(() => rx.transactions().some((t) => t.rcptTo.some((r) => r.includes(Buffer.from('dan@partner.test')))), 60_000, 'the copy for dan');
    const copy = rx.transactions().find((t) => t.rcptTo.some((r) => r.includes(Buffer.from('dan@partner.test'))))!.data;
    expect(copy.includes(Buffer.from(SECRET))).toBe(false);
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(copy.toString('latin1'))?.[0] ?? '';
    const read = gpg(['--decrypt'], Buffer.from(armored));
    expect(read.status, read.stderr.toString()).toBe(0);
    expect(read.stdout.toString()).toContain(SECRET);
    await until(async () => /delivered\s+<dan@partner\.test>/.test(await show(id)), 30_000, 'delivered in queue show');
    expect(await show(id)).toMatch(/route: end-to-end:openpgp/);
    // The key is in the store now, filed under its source.
    expect((await gateway.cli('keys', 'show', 'dan@partner.test')).stdout).toMatch(/wkd/);
  });

  it('a recipient who publishes no key is held for pickup, never sent plaintext', async () => {
    const sent = await submit('nokey@partner.test', ['--header', 'Subject: Results', '--header', 'Sealgate-Encrypt: pgp', '--body', SECRET]);
    const id = queuedId(sent.stdout);
    expect(id, sent.stdout).not.toBe('');
    await until(async () => /held for pickup/.test(await show(id)), 60_000, 'the message held for pickup');
    for (const t of rx.transactions()) expect(t.data.includes(Buffer.from(SECRET))).toBe(false);
  });
});
