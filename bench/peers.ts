/**
 * The peers the throughput benches share: a destination that counts what it got (smtp-sink),
 * a Postfix relay configured like Sealgate (durable queue, same concurrency), and the timed run
 * from the first message sent until the destination has them all.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { startPostfix, startSmtpSink } from '../test/helpers/postfix.ts';
import { freePort } from '../test/helpers/ports.ts';
import { smtpSource, waitFor } from './lib.ts';

export interface Destination {
  count(): number;
  stop(): Promise<void>;
  address: string;
}

export interface Load {
  messages: number;
  sessions: number;
  size: number;
  /** Send copies of this message file instead of `size`-byte generated ones. */
  file?: string;
  /** Envelope sender; default sender@source.test. */
  from?: string;
  /** HELO name; default smtp-source's (the machine's host name). */
  helo?: string;
}

export async function sinkDestination(ip: string): Promise<Destination> {
  const port = await freePort(ip);
  const sink = await startSmtpSink({ ip, port, backlog: 512 });
  return { count: () => sink.count(), stop: () => sink.stop(), address: `${ip}:${port}` };
}

/**
 * Busy CPU time of the whole machine (/proc/stat: every state but idle and iowait), in ms. Over
 * a run it counts the relay under test and what both sides share (smtp-source, the destination).
 */
function machineBusyMs(): number {
  const fields = readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return ((user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * 1000) / 100; // USER_HZ
}

/** Messages per second: `load` split evenly over the `targets`, timed until `destination` has them all. */
export async function measure(label: string, targets: string[], destination: Destination, load: Load): Promise<number> {
  const start = performance.now();
  const busyBefore = machineBusyMs();
  const each = Math.floor(load.messages / targets.length);
  const sessions = Math.max(1, Math.floor(load.sessions / targets.length));
  await Promise.all(targets.map((target, i) => smtpSource({ target, sessions, messages: i === 0 ? load.messages - each * (targets.length - 1) : each, size: load.size, file: load.file, helo: load.helo, from: load.from ?? 'sender@source.test', to: 'rcpt@sink.test' })));
  const sentAt = performance.now();
  await waitFor(() => destination.count() >= load.messages, 20 * 60_000, `${label}: ${load.messages} messages at the destination (have ${destination.count()})`);
  const seconds = (performance.now() - start) / 1000;
  // Not a figure: where a ratio's limit lies (a relay using every core, or waiting on something).
  const busyMs = machineBusyMs() - busyBefore;
  console.log(`${label}: machine CPU ${((busyMs * 1000) / load.messages).toFixed(0)} µs per message, ${(busyMs / 1000 / seconds).toFixed(2)} of ${availableParallelism()} cores busy (with smtp-source and the destination); all accepted after ${((sentAt - start) / 1000).toFixed(1)} s, delivered after ${seconds.toFixed(1)} s`);
  return load.messages / seconds;
}

/** A Postfix relay for `sink.test` to `destination`, measured with `load`; `mainCf` adds to (or overrides) its settings. */
export async function postfixRun(destination: Destination, name: string, relayIp: string, load: Load, mainCf: Record<string, string> = {}, before?: (relay: string, log: () => string) => Promise<void>): Promise<{ rate: number }> {
  const port = await freePort(relayIp);
  // Alike: durable queue (Postfix fsyncs its queue files), same concurrency to the destination.
  const relay = await startPostfix({
    ip: relayIp,
    port,
    name: `relay-${name}.bench.test`,
    mode: 'accept',
    domains: [],
    mainCf: {
      relay_domains: 'sink.test',
      transport_maps: `inline:{sink.test=smtp:[${destination.address.replace(/:(\d+)$/, ']:$1')}}`,
      default_destination_concurrency_limit: String(load.sessions),
      smtp_destination_concurrency_limit: String(load.sessions),
      default_process_limit: String(Math.max(100, load.sessions * 2)),
      smtpd_client_connection_count_limit: '0',
      smtp_tls_security_level: 'may',
      ...mainCf,
    },
  });
  try {
    await before?.(`${relayIp}:${port}`, () => relay.log());
    return { rate: await measure(`postfix ${name}`, [`${relayIp}:${port}`], destination, load) };
  } finally {
    await relay.stop();
  }
}
