import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { SmtpClient } from '../../src/smtp/index.ts';
import { startGateway, type GatewayProcess } from './gateway.ts';
import type { RecordingSmtp } from './recording-smtp.ts';
import type { TestSchema } from './stores.ts';

/*
 * Helpers for the cluster attack tests (test/attacks/i9-0*): real gateway nodes on one
 * PostgreSQL schema, relaying `cluster.test` to a recording receiver, and the bookkeeping
 * that compares what was acknowledged with what arrived.
 */

export const CLUSTER_DOMAIN = 'cluster.test';

export interface NodeOptions {
  queue?: Record<string, unknown>;
  delivery?: Record<string, unknown>;
  limits?: Record<string, unknown>;
  /** Extra environment of this node's process only (e.g. NODE_OPTIONS with a preload). */
  env?: Record<string, string>;
  masterKeyFile?: string;
  /** More domains relayed to `rx` (with their mailbox lists: no RCPT callout to the receiver). */
  domains?: Record<string, { recipients: string[] }>;
}

const CLOCK_SKEW_PRELOAD = path.resolve(import.meta.dirname, 'clock-skew-preload.ts');

/** `NodeOptions.env` of a node whose clock runs `ms` ahead (clock-skew-preload.ts). */
export function clockAhead(ms: number): Record<string, string> {
  return { NODE_OPTIONS: `--import ${CLOCK_SKEW_PRELOAD}`, SEALGATE_TEST_CLOCK_SKEW_MS: String(ms) };
}

/** Starts one node of the cluster in `dir` on the schema, relaying to `rx`. */
export async function startNode(dir: string, schema: TestSchema, rx: RecordingSmtp, options: NodeOptions = {}): Promise<GatewayProcess> {
  const saved: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(options.env ?? {})) {
    saved[key] = process.env[key];
    process.env[key] = value; // spawn copies the environment now; restored below
  }
  try {
    return await startGateway(dir, {
      store: { url: schema.url },
      vault: { masterKeyFile: options.masterKeyFile ?? path.join(dir, '..', 'shared-master.key') },
      domains: {
        [CLUSTER_DOMAIN]: { smarthost: `${rx.host}:${rx.port}` },
        ...Object.fromEntries(Object.entries(options.domains ?? {}).map(([domain, extra]) => [domain, { smarthost: `${rx.host}:${rx.port}`, ...extra }])),
      },
      web: { enabled: false },
      log: { level: 'info' },
      queue: { retryScheduleMs: [300], pollIntervalMs: 100, leaseMs: 2000, ...options.queue },
      delivery: { connectTimeoutMs: 3000, commandTimeoutMs: 10_000, ...options.delivery },
      ...(options.limits ? { limits: options.limits } : {}),
    });
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** The node id a gateway's connections carry as `application_name` ("sealgate <id>"). */
export function nodeIdOf(node: GatewayProcess): string {
  return readFileSync(path.join(node.dir, 'data', 'node-id'), 'utf8').trim();
}

/** Ends every database connection of these nodes, as a PostgreSQL restart would. */
export async function terminateBackends(schema: TestSchema, nodes: GatewayProcess[]): Promise<number> {
  const names = nodes.map((n) => `'sealgate ${nodeIdOf(n)}'`).join(', ');
  const { rows } = await schema.query(`select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name in (${names}) and pid <> pg_backend_pid()`);
  return rows.length;
}

export interface SendResult {
  subject: string;
  /** The reply to the end of DATA (or the error that ended the session). */
  reply: string;
  acked: boolean;
}

/** One message to `box@cluster.test` (or the given recipients); never throws. */
export async function sendMessage(port: number, subject: string, options: { recipients?: string[]; body?: string; from?: string } = {}): Promise<SendResult> {
  let client: SmtpClient | undefined;
  try {
    client = await SmtpClient.connect({ host: '127.0.0.1', port, servername: 'node', heloName: 'source.test', connectTimeoutMs: 5000, commandTimeoutMs: 20_000 });
    await client.ehlo();
    const recipients = (options.recipients ?? [`box@${CLUSTER_DOMAIN}`]).map((address) => ({ address, params: [] }));
    const { mail, rcpts } = await client.envelope(options.from ?? 'a@internet.test', [], recipients);
    if (mail.code !== 250 || rcpts.some((r) => r.code !== 250)) return { subject, reply: `${mail.raw} / ${rcpts.map((r) => r.raw).join(' / ')}`, acked: false };
    const reply = await client.data(Readable.from([Buffer.from(`Subject: ${subject}\r\n\r\n${options.body ?? `${subject}\r\n`}`)]));
    return { subject, reply: reply.raw, acked: reply.code === 250 };
  } catch (error) {
    return { subject, reply: `error: ${(error as Error).message}`, acked: false };
  } finally {
    await client?.quit().catch(() => client?.close());
  }
}

/** Subject → how many times the receiver got it. */
export function receivedCounts(rx: RecordingSmtp): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of rx.transactions()) {
    const subject = /^Subject: (\S+)\r?$/m.exec(t.data.toString('latin1'))?.[1] ?? '?';
    counts.set(subject, (counts.get(subject) ?? 0) + 1);
  }
  return counts;
}

/** Recipient states in the schema, e.g. { delivered: 10 }. */
export async function recipientStates(schema: TestSchema): Promise<Record<string, number>> {
  const { rows } = await schema.query(`select state, count(*)::int as n from ${schema.name}.recipients group by state`);
  return Object.fromEntries(rows.map((r: { state: string; n: number }) => [r.state, r.n]));
}

export function alive(node: GatewayProcess): boolean {
  return node.child.exitCode === null && node.child.signalCode === null;
}
