import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDns, type DnsServer } from '../helpers/dns.ts';
import { DNSSEC_TOOLS, startDnssecDns, type DnssecDns } from '../helpers/dnssec.ts';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { describeWithPeers } from '../helpers/peers.ts';
import { tempDir, until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 8 item 15: DANE bypassed by a spoofed MX answer. dane.test is DNSSEC-signed with a
 * TLSA record for mx.dane.test; the attacker owns evil.test (a real, unsigned zone) and makes
 * the plain resolver (delivery.dnsServers, here dnsmasq) answer `dane.test MX mx.evil.test`.
 * The validating resolver (delivery.dnssecResolvers) still says mx.dane.test. Before the fix
 * the MX list came from the plain resolver and the message went in plaintext to the attacker.
 */
const PASSWORD = 'correct horse battery staple';
const EVIL_IP = '127.0.0.151';

describeWithPeers(['dnsmasq', 'swaks', ...DNSSEC_TOOLS], 'i8-15 spoofed MX answer for a DANE domain', () => {
  const temp = tempDir('i8-15');
  let world: DnssecDns;
  let liar: DnsServer;
  let evil: RecordingSmtp;
  let gateway: GatewayProcess;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);

  beforeAll(async () => {
    evil = await startRecordingSmtp({ host: EVIL_IP });
    const tlsa = createHash('sha256').update('the real MX key').digest('hex');
    world = await startDnssecDns([
      { name: 'dane.test', dnssec: 'signed', records: ['@ MX 10 mx', 'mx A 127.0.0.150', `_25._tcp.mx TLSA 3 1 1 ${tlsa}`] },
      { name: 'evil.test', dnssec: 'unsigned', records: ['@ MX 10 mx', `mx A ${EVIL_IP}`] },
    ]);
    liar = await startDns({ mx: [{ domain: 'dane.test', host: 'mx.evil.test', pref: 10 }], a: [{ name: 'mx.evil.test', ip: EVIL_IP }] });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      delivery: { dnsServers: liar.servers, dnssecResolvers: world.servers, port: evil.port, connectTimeoutMs: 2000, ipFamilies: [4] },
      queue: { retryScheduleMs: [500], pollIntervalMs: 100 },
      pickup: { fallbackOnRequirement: false },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await evil?.stop();
    await liar?.stop();
    await world?.stop();
    temp.cleanup();
  });

  it('defers when the plain resolver disagrees with the validated MX RRset; the attacker gets nothing', async () => {
    const id = queuedId((await submit('dan@dane.test', ['--header', 'Subject: for the DANE MX only'])).stdout);
    expect(id).not.toBe('');
    const disagreements = () => gateway.output().split('\n').filter((line) => line.includes('MX answers disagree')).length;
    await until(() => evil.transactions().length > 0 || disagreements() >= 2, 15_000, 'two deferred attempts (or a delivery)');
    const text = (await gateway.cli('queue', 'show', id)).stdout;
    expect(text).toMatch(/queued|deferred/);
    expect(text).not.toMatch(/delivered/);
    expect(text).toMatch(/4\.4\.3 .*plain resolver.*mx\.evil\.test/s);
    // Not one byte reached the attacker's address: not even a connection with EHLO.
    expect(evil.bytes()).toEqual(Buffer.alloc(0));
    expect(gateway.output()).toMatch(/"alert":true[^\n]*MX answers disagree|MX answers disagree[^\n]*"alert":true/);
  });
});
