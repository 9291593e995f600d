/**
 * bench/relay: smtp-source → relay (durable queue) → destination, for Sealgate and for a
 * Postfix relay configured alike, on this machine in one run. Prints messages/s from the
 * first message sent until the destination has them all, and Sealgate / Postfix. The
 * relay_dkim phase (bench/relay-dkim.ts) does it again with mail authentication on both sides.
 *
 *   node bench/relay.ts [--messages 5000] [--sessions 20] [--size 10240] [--workers N] [--skip-tls] [--skip-rss] [--rss-only]
 *                       [--skip-dkim | --dkim-only]
 *
 * `--rss-only` runs only the memory phase (a 50 MB message beside 100 sessions of small ones).
 */
import { closeSync, existsSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestCa } from '../test/helpers/ca.ts';
import { startGateway } from '../test/helpers/gateway.ts';
import { freePort, tempDir } from '../test/helpers/ports.ts';
import { startPostfix } from '../test/helpers/postfix.ts';
import { runSwaks } from '../test/helpers/swaks.ts';
import { arg, figure, flag, peakRssEachMb, peakRssTreeMb, samplePssTree, smtpSource, waitFor } from './lib.ts';
import { measure, postfixRun, sinkDestination, type Destination } from './peers.ts';
import { relayDkim } from './relay-dkim.ts';

const messages = arg('messages', 5000);
const sessions = arg('sessions', 20);
const size = arg('size', 10_240);
const temp = tempDir('bench-relay');
const load = { messages, sessions, size };
const workers = flag('workers') ? arg('workers', 1) : 'auto';

/** smtp-sink has no TLS: a Postfix instance that accepts over STARTTLS and discards. */
async function tlsDiscardDestination(ip: string, cert: { certPath: string; keyPath: string }): Promise<Destination> {
  const port = await freePort(ip);
  const instance = await startPostfix({ ip, port, name: 'discard.bench.test', mode: 'discard', domains: ['sink.test'], tls: cert, mainCf: { smtpd_tls_received_header: 'no', smtpd_tls_loglevel: '0' } });
  // Count deliveries from the log incrementally: re-reading it whole would load the CPU
  // that the two relays are competing for.
  const logFile = path.join(instance.dir, 'maillog');
  let offset = 0;
  let sent = 0;
  const count = () => {
    if (!existsSync(logFile)) return sent;
    const size = statSync(logFile).size;
    if (size <= offset) return sent;
    const fd = openSync(logFile, 'r');
    const chunk = Buffer.alloc(size - offset);
    readSync(fd, chunk, 0, chunk.length, offset);
    closeSync(fd);
    const text = chunk.toString('latin1');
    const end = text.lastIndexOf('\n') + 1;
    offset += end;
    sent += (text.slice(0, end).match(/status=sent/g) ?? []).length;
    return sent;
  };
  return { count, stop: () => instance.stop(), address: `${ip}:${port}` };
}

async function sealgateRun(destination: Destination, name: string): Promise<{ rate: number }> {
  const gateway = await startGateway(path.join(temp.dir, name), {
    domains: { 'sink.test': { smarthost: destination.address } },
    delivery: { concurrency: sessions, perDomainConcurrency: sessions },
    limits: { maxConnectionsPerIp: 1000, maxCommandsPerMinute: 1_000_000 },
    log: { level: 'warn' },
    // The default of `sealgate serve` (one listener worker per core), set here because the
    // test helper starts one process unless told; --workers N to compare.
    serve: { workers },
  });
  try {
    return { rate: await measure(`sealgate ${name}`, [`127.0.0.1:${gateway.ports.inbound}`], destination, load) };
  } finally {
    await gateway.kill();
  }
}

/** The memory phase: peak RSS (summed VmHWMs) and peak Pss (of the processes' sum) while relaying. */
async function peakMemory(): Promise<{ rssMb: number; pssMb: number }> {
  const destination = await sinkDestination('127.0.0.45');
  const gateway = await startGateway(path.join(temp.dir, 'rss'), {
    domains: { 'sink.test': { smarthost: destination.address } },
    limits: { maxConnectionsPerIp: 1000, maxCommandsPerMinute: 1_000_000, maxMessageBytes: 60 * 1024 * 1024 },
    log: { level: 'warn' },
    // The default of `sealgate serve` (one listener worker per core), set here because the
    // test helper starts one process unless told; --workers N to compare.
    serve: { workers },
  });
  try {
    // Steady state: the first start made the self-signed certificate (and loaded the X.509
    // library for it); a running gateway is restarted far more often than it is installed.
    await gateway.restart();
    const big = path.join(temp.dir, 'fifty.eml');
    const line = `${'y'.repeat(76)}\r\n`;
    writeFileSync(big, `Subject: fifty megabytes\r\n\r\n${line.repeat(Math.ceil((50 * 1024 * 1024) / line.length))}`);
    const pss = samplePssTree(gateway.child.pid!);
    const bigSend = runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', 'a@source.test', '--to', 'big@sink.test', '--data', big], { timeoutMs: 600_000 });
    const crowd = smtpSource({ target: `127.0.0.1:${gateway.ports.inbound}`, sessions: 100, messages: 1000, size: 10_240, from: 'a@source.test', to: 'b@sink.test' });
    await Promise.all([bigSend, crowd]);
    await waitFor(() => destination.count() >= 1001, 10 * 60_000, 'all RSS-run messages delivered');
    // Every process of the gateway: the primary and its listener workers (sum of their peaks).
    const pssMb = pss.stop();
    // Per process (primary first), to see where the sum comes from; not figures.
    console.log(`peak per process: ${peakRssEachMb(gateway.child.pid!).map(({ pid, mb }) => `${pid} rss ${mb} MB pss ${pss.each()[pid] ?? '?'} MB`).join(', ')}`);
    return { rssMb: peakRssTreeMb(gateway.child.pid!), pssMb };
  } finally {
    await gateway.kill();
    await destination.stop();
  }
}

const dkimOnly = flag('dkim-only');

/** The throughput phases: plaintext and (unless --skip-tls) TLS, then relay_dkim, each against Postfix. */
async function throughput(): Promise<void> {
  console.log(`relay: ${messages} messages of ${size} bytes over ${sessions} sessions`);
  if (!dkimOnly) await plainAndTls();
  if (!flag('skip-dkim')) {
    const dkim = await relayDkim(load, temp.dir, workers);
    figure('relay_dkim.sealgate.msgs_per_s', dkim.sealgate, 1);
    figure('relay_dkim.postfix.msgs_per_s', dkim.postfix, 1);
    figure('relay_dkim.ratio', dkim.sealgate / dkim.postfix, 2);
  }
}

async function plainAndTls(): Promise<void> {
  const sealSink = await sinkDestination('127.0.0.40');
  const sealgate = await sealgateRun(sealSink, 'plain');
  await sealSink.stop();
  const postSink = await sinkDestination('127.0.0.41');
  const postfix = await postfixRun(postSink, 'plain', '127.0.0.42', load);
  await postSink.stop();
  figure('relay.sealgate.msgs_per_s', sealgate.rate, 1);
  figure('relay.postfix.msgs_per_s', postfix.rate, 1);
  figure('relay.ratio', sealgate.rate / postfix.rate, 2);

  if (!flag('skip-tls')) {
    const ca = await createTestCa(temp.dir);
    const cert = await ca.issue(['discard.bench.test']);
    const sealTls = await tlsDiscardDestination('127.0.0.43', cert);
    const sealgateTls = await sealgateRun(sealTls, 'tls');
    await sealTls.stop();
    const postTls = await tlsDiscardDestination('127.0.0.44', cert);
    const postfixTls = await postfixRun(postTls, 'tls', '127.0.0.46', load);
    await postTls.stop();
    figure('relay_tls.sealgate.msgs_per_s', sealgateTls.rate, 1);
    figure('relay_tls.postfix.msgs_per_s', postfixTls.rate, 1);
    figure('relay_tls.ratio', sealgateTls.rate / postfixTls.rate, 2);
  }
}

try {
  if (!flag('rss-only')) await throughput();
  if (!dkimOnly && !flag('skip-rss')) {
    const memory = await peakMemory();
    figure('relay.sealgate.peak_rss_mb', memory.rssMb, 0);
    figure('relay.sealgate.peak_pss_mb', memory.pssMb, 0);
  }
} finally {
  temp.cleanup();
}
