/**
 * The relay_dkim phase of bench/relay: the same relay with mail authentication on at both
 * sides, fed one DKIM-signed 10 kB message (signed once by dkimpy) N times.
 *
 * - Sealgate: the MX listener with `auth.verifyInbound` (SPF, DKIM, ARC and DMARC through the
 *   test DNS server) and `auth.arcSealDomain`, so what it relays carries our
 *   Authentication-Results and an ARC set (two RSA-2048 signatures). Relayed inbound mail is
 *   not DKIM-signed by Sealgate (src/delivery/remote.ts: it is not ours to sign); the ARC seal
 *   is its signature on this path.
 * - Postfix: two OpenDKIM milters, a verifier (Mode v) then a signer (Mode s, RSA-2048 for
 *   the sender's domain): Debian's OpenDKIM either signs or verifies a message (ResignMailTo
 *   is not built in), so one of each. No SPF or DMARC on this side (no policyd-spf, no
 *   OpenDMARC): it does less than Sealgate does.
 *
 * Before each timed run one message goes to a recording server, and the run stops unless
 * what arrived shows the work was done (dkim=pass and the seal or the signature).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDns } from '../test/helpers/dns.ts';
import { startGateway } from '../test/helpers/gateway.ts';
import { signerSettings, startOpenDkim } from '../test/helpers/opendkim.ts';
import { freePort } from '../test/helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../test/helpers/recording-smtp.ts';
import { smtpSource } from './lib.ts';
import { measure, postfixRun, sinkDestination, type Load } from './peers.ts';

/**
 * The test DNS server, on loopback like every server of the suite: Sealgate asks it. OpenDKIM
 * does not: Debian's build resolves through libunbound, which queries no loopback address and
 * answers names under test. and example. itself, and its ResolverConfiguration file is read by
 * the milter's threads at once (random 451s under load). OpenDKIM takes the same records from
 * its TestDNSData data set instead (opendkim.conf(5)), so its side pays no DNS round trip at
 * all while Sealgate's does one per name it has not cached: in Postfix's favour, if anything.
 */
const DNS_HOST = '127.0.53.12';
const SENDER = 'sender@source.example';
const HELO = 'mail.source.example';
const GATEWAY = 'gateway.bench.test';
const AUTHSERV_ID = 'relay-dkim.bench.test';

function run(command: string, args: string[], input?: string): string {
  const result = spawnSync(command, args, { input, timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr?.toString() ?? result.error?.message}`);
  return result.stdout.toString();
}

/** The p= record text of an opendkim-genkey .txt file (its quoted zone strings joined). */
const zoneRecord = (file: string) => [...readFileSync(file, 'utf8').matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');

/** A 10 kB message from source.example, DKIM-signed (RSA-2048, relaxed/relaxed) by dkimpy, LF line ends. */
function signedMessage(dir: string, size: number): string {
  run('dknewkey', ['--ktype', 'rsa', path.join(dir, 'ext')]);
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\n';
  const head = `From: Sender <${SENDER}>\nTo: rcpt@sink.test\nSubject: relay_dkim\nDate: Thu, 03 Dec 2026 12:00:00 +0000\nMessage-ID: <relay-dkim@source.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n`;
  const plain = head + line.repeat(Math.max(1, Math.round((size - head.length) / line.length)));
  const signed = run('dkimsign', ['--hcanon', 'relaxed', '--bcanon', 'relaxed', 'ext', 'source.example', path.join(dir, 'ext.key')], plain);
  const file = path.join(dir, 'signed.eml');
  writeFileSync(file, signed);
  return file;
}

/** Sends one copy to check.test and fails unless what the recorder got matches every pattern. */
async function proveWork(side: string, target: string, file: string, recorder: RecordingSmtp, patterns: RegExp[], log: () => string = () => ''): Promise<void> {
  const before = recorder.transactions().length;
  await smtpSource({ target, sessions: 1, messages: 1, size: 0, file, helo: HELO, from: SENDER, to: 'rcpt@check.test' }).catch((error: Error) => {
    throw new Error(`relay_dkim ${side}: the proving message was refused: ${error.message}\n${log().slice(-3000)}`);
  });
  await recorder.until(before + 1, 30_000);
  const got = recorder.transactions()[before].data.toString('latin1');
  const head = got.slice(0, got.indexOf('\r\n\r\n'));
  const missing = patterns.filter((p) => !p.test(head));
  if (missing.length) throw new Error(`relay_dkim ${side}: the relayed message lacks ${missing.join(', ')}; nothing would be measured\n${head.slice(0, 4000)}`);
}

export async function relayDkim(load: Load, tempRoot: string, workers: number | 'auto'): Promise<{ sealgate: number; postfix: number }> {
  const dir = path.join(tempRoot, 'dkim');
  mkdirSync(dir, { recursive: true });
  const file = signedMessage(dir, load.size);
  run('opendkim-genkey', ['-b', '2048', '-d', 'source.example', '-s', 'pf', '-D', dir]);
  const records = [
    { name: 'ext._domainkey.source.example', text: readFileSync(path.join(dir, 'ext.dns'), 'utf8').trim() },
    { name: 'pf._domainkey.source.example', text: zoneRecord(path.join(dir, 'pf.txt')) },
    { name: 'source.example', text: 'v=spf1 ip4:127.0.0.0/8 -all' },
    { name: '_dmarc.source.example', text: 'v=DMARC1; p=reject' },
  ];
  const dnsPort = await freePort(DNS_HOST);
  const dns = await startDns({ zones: ['example'], txt: records }, { host: DNS_HOST, port: dnsPort });
  const dnsData = path.join(dir, 'dns-data');
  writeFileSync(dnsData, records.map((r) => `${r.name} ${r.text}`).join('\n') + '\n');
  const recorder = await startRecordingSmtp({ host: '127.0.0.47' });
  const check = `${recorder.host}:${recorder.port}`;
  const dkimLoad: Load = { ...load, file, from: SENDER, helo: HELO };
  try {
    const sealSink = await sinkDestination('127.0.0.48');
    let sealgate: number;
    const gateway = await startGateway(path.join(dir, 'gateway'), {
      hostname: GATEWAY,
      domains: { 'sink.test': { smarthost: sealSink.address }, 'check.test': { smarthost: check } },
      auth: { verifyInbound: true, dnsServers: [`${DNS_HOST}:${dnsPort}`], arcSealDomain: GATEWAY },
      // As the other relay phases: serve's default (a listener worker per core) unless --workers N.
      serve: { workers },
      delivery: { concurrency: load.sessions, perDomainConcurrency: load.sessions },
      limits: { maxConnectionsPerIp: 1000, maxCommandsPerMinute: 1_000_000 },
      log: { level: 'warn' },
    });
    try {
      const keys = await gateway.cli('domain', 'dkim', GATEWAY);
      if (keys.code !== 0) throw new Error(`sealgate domain dkim ${GATEWAY}: ${keys.stderr}`);
      // The seal key is looked up again only a few seconds after none was found: restart instead.
      await gateway.restart();
      const target = `127.0.0.1:${gateway.ports.inbound}`;
      await proveWork('sealgate', target, file, recorder, [/^Authentication-Results: gateway\.bench\.test;/m, /\bspf=pass\b/, /\bdkim=pass\b[^;]*header\.[di]=@?source\.example/, /\bdmarc=pass\b/, /^ARC-Seal: i=1;[^]*?cv=none/m]);
      sealgate = await measure('sealgate dkim', [target], sealSink, dkimLoad);
    } finally {
      await gateway.kill();
      await sealSink.stop();
    }

    // No client of ours is internal to the verifier (TEST-NET-3 only): it verifies everything.
    const verifier = await startOpenDkim(dir, 'verify', { Mode: 'v', AuthservID: AUTHSERV_ID, InternalHosts: '203.0.113.255', MinimumKeyBits: '1024', TestDNSData: `file:${dnsData}` });
    // The signer takes every loopback client as internal; its key is the sender domain's.
    const signer = await startOpenDkim(dir, 'sign', { ...signerSettings(dir, 'sign', 'source.example', 'pf', path.join(dir, 'pf.private')), AuthservID: AUTHSERV_ID, InternalHosts: '127.0.0.0/8', Canonicalization: 'relaxed/relaxed' });
    const postSink = await sinkDestination('127.0.0.49');
    try {
      const milters = {
        smtpd_milters: `${verifier.milter}, ${signer.milter}`,
        // A milter that fails must not let mail through unchecked: the run would measure nothing.
        milter_default_action: 'tempfail',
        relay_domains: 'sink.test check.test',
        transport_maps: `inline:{sink.test=smtp:[${postSink.address.replace(/:(\d+)$/, ']:$1')}, check.test=smtp:[${recorder.host}]:${recorder.port}}`,
      };
      const { rate } = await postfixRun(postSink, 'dkim', '127.0.0.50', dkimLoad, milters, (relay, log) =>
        proveWork('postfix', relay, file, recorder, [/^Authentication-Results: relay-dkim\.bench\.test;[^]*?\bdkim=pass\b[^]*?header\.[di]=@?source\.example/m, /^DKIM-Signature:[^]*?\bs=pf;/m], log),
      );
      return { sealgate, postfix: rate };
    } finally {
      await postSink.stop();
      await verifier.stop();
      await signer.stop();
    }
  } finally {
    await recorder.stop();
    await dns.stop();
  }
}
