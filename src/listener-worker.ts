/**
 * Entry of a listener worker (`serve.workers` above 1; forked by listener-pool.ts): its own
 * runtime and store connection, the SMTP listeners and the portal on the sockets node:cluster
 * shares. On PostgreSQL each enqueue commits here before its 250, then tells the primary, whose
 * delivery loop sends it; on SQLite the primary commits the rows (listener-pool.ts). Delivery,
 * the scheduled jobs and the admin listener stay in the primary.
 */
import cluster from 'node:cluster';
import { AuditBatcher } from './audit/index.ts';
import type { Config } from './config/index.ts';
import { createLogger } from './logger.ts';
import { openRuntime } from './runtime.ts';
import { listenerReadiness, loadTls, startFront, type Front } from './gateway-front.ts';
import type { GatewayMetrics } from './metrics/index.ts';
import type { PrimaryCall, PrimaryMessage, WorkerMessage } from './listener-pool.ts';

// The primary gone while this worker starts (a listen() asks it for the socket): end quietly,
// as node:cluster does when the channel closes, instead of a stack trace for the EPIPE.
cluster.worker?.on('error', (error) => {
  if (!process.connected) process.exit(0);
  throw error;
});

function tell(message: WorkerMessage): void {
  // The primary gone, the channel is closed and node:cluster ends this process anyway.
  if (process.connected) process.send!(message);
}

const calls = new Map<number, { resolve(): void; reject(error: Error): void }>();
let nextCall = 0;

/** Resolves once the primary committed what `call` carries (durable), rejects with its reason. */
function callPrimary(call: PrimaryCall): Promise<void> {
  if (!process.connected) return Promise.reject(new Error('the primary process is gone'));
  const id = nextCall++;
  return new Promise((resolve, reject) => {
    calls.set(id, { resolve, reject });
    tell({ type: 'call', id, call });
  });
}

process.on('disconnect', () => {
  for (const call of calls.values()) call.reject(new Error('the primary process is gone'));
  calls.clear();
});

let front: Front | undefined;
let metrics: GatewayMetrics | undefined;
let configured: ((message: { config: Config; index: number; writesThroughPrimary: boolean }) => void) | undefined;
let stopAsked = false;
let stopping: Promise<void> | undefined;

/** A stop asked while this worker still starts waits for the start, then stops (no message is dropped). */
function askStop(): void {
  stopAsked = true;
  if (configured) process.exit(0); // nothing opened yet
  if (front) void stop();
}

// Listening from the first line: the primary may ask anything while this worker starts.
process.on('message', (message: PrimaryMessage) => {
  if (message.type === 'config') configured?.(message);
  if (message.type === 'stop') askStop();
  if (message.type === 'result') {
    const call = calls.get(message.id);
    calls.delete(message.id);
    if (message.error === undefined) call?.resolve();
    else call?.reject(new Error(message.error));
  }
  if (message.type === 'readiness') tell({ type: 'readiness', id: message.id, checks: front ? listenerReadiness(front.smtpListeners) : [{ name: 'listeners', ok: false, detail: 'starting' }] });
  if (message.type === 'metrics') {
    if (!metrics) tell({ type: 'metrics', id: message.id, snapshot: [] });
    else void metrics.registry.getMetricsAsJSON().then((snapshot) => tell({ type: 'metrics', id: message.id, snapshot: snapshot as never }));
  }
});
// systemd signals every process of the unit, a terminal's Ctrl-C the whole group: a worker
// stops as it would when the primary asks, and the primary waits for it.
process.on('SIGTERM', askStop);
process.on('SIGINT', askStop);

const { config, index, writesThroughPrimary } = await new Promise<{ config: Config; index: number; writesThroughPrimary: boolean }>((resolve) => (configured = resolve));
configured = undefined;
const logger = createLogger(config).child({ worker: index });
// The rows of a message and its lifecycle events go to the primary on SQLite; the rest this
// worker writes (logins, the portal's state) is rare enough to wait for the file's lock.
const runtime = await openRuntime(config, logger, writesThroughPrimary ? { intakeCommit: (rows) => callPrimary({ kind: 'intake', rows }) } : {});
const lifecycle = new AuditBatcher(writesThroughPrimary ? { recordMany: (events) => callPrimary({ kind: 'audit', events }) } : runtime.audit, logger);
metrics = config.ops.enabled ? new (await import('./metrics/index.ts')).GatewayMetrics('listener') : undefined;
try {
  front = await startFront({ config, runtime, tls: await loadTls(config), metrics, notify: writesThroughPrimary ? () => undefined : () => tell({ type: 'notify' }), lifecycle });
} catch (error) {
  tell({ type: 'failed', error: (error as Error).message });
  await runtime.close().catch(() => undefined);
  process.exit(70);
}

/** Stops listening, lets the sessions finish (each listener's close grace), then exits 0. */
function stop(): Promise<void> {
  stopping ??= (async () => {
    for (const service of [...front!.services].reverse()) {
      await service.stop().catch((error) => logger.error({ err: (error as Error).message, service: service.name }, 'stop failed'));
    }
    await lifecycle.flush().catch(() => undefined);
    await runtime.close().catch(() => undefined);
    process.exit(0);
  })();
  return stopping;
}

if (stopAsked) void stop();
else tell({ type: 'listening', listeners: front.listeners });
