/**
 * Composition root (with runtime.ts): load config, pick the store, wire services, handle
 * signals. Only these files know about concrete stores and how services connect:
 * gateway-front.ts builds the listeners and the portal, listener-pool.ts and
 * listener-worker.ts spread them over processes (`serve.workers` above 1).
 */
import { availableParallelism } from 'node:os';
import { configWarnings, storeUrl, type Config } from './config/index.ts';
import { AuditBatcher } from './audit/index.ts';
import type { Service } from './kernel/index.ts';
import { initDataDir, openRuntime, type Runtime } from './runtime.ts';
import { createDeliveryService, type DeliveryService } from './delivery-service.ts';
import { startDeliveryThread } from './delivery-thread-handle.ts';
import { createOpsListener, type ReadinessCheck } from './web/index.ts';
import type { MetricsSnapshot } from './metrics/index.ts';
import { createPickupHousekeeping } from './pickup-service.ts';
import { createRetentionService } from './retention-service.ts';
import { loadTls, storeReadiness } from './gateway-shared.ts';
import type { Front, ListenerInfo } from './gateway-front.ts';
import type { ListenerPool, PrimaryCall } from './listener-pool.ts';

export interface RunningGateway {
  runtime: Runtime;
  services: Service[];
  listeners: ListenerInfo[];
  /**
   * `signal`: what asked the gateway to stop (logged with the time shutdown took). Listeners
   * close first (sessions in DATA get up to a third of `shutdown.deadlineSeconds`, 10 s at
   * most), then in-flight deliveries get the rest of it before their leases are given back.
   */
  stop(reason?: { signal?: NodeJS.Signals }): Promise<void>;
  /** A second SIGTERM: gives the delivery leases back now, so the process may exit at once. */
  release(): Promise<number>;
}

/**
 * `serve.workers` as a number. `auto` is one listener process per core on PostgreSQL, and one
 * process on SQLite: there the primary commits for its workers (one writer), and on 2 cores
 * shared with the load generator two workers relayed no faster than one process
 * (bench/README.md, 186.6 against 194.6 msg/s) for a process more. A number is taken as given.
 */
export function listenerWorkers(config: Config): number {
  if (config.serve.workers !== 'auto') return config.serve.workers;
  return storeUrl(config).startsWith('postgres') ? availableParallelism() : 1;
}

/**
 * `delivery.thread` as a boolean. `auto` gives delivery a thread of its own when one process
 * runs everything on two cores or more: intake and delivery each get an event loop (611 against
 * 490 msg/s relayed on 2 cores, bench/README.md). With listener workers the primary's main
 * thread has no SMTP to serve, so delivery stays in it.
 */
export function deliveryInOwnThread(config: Config, workers: number): boolean {
  if (config.delivery.thread !== 'auto') return config.delivery.thread;
  return workers === 1 && availableParallelism() >= 2;
}

/**
 * One process (`serve.workers` 1) runs everything; more, and this process is the cluster's
 * primary: the runtime, delivery, the scheduled jobs and the admin listener stay here, while
 * forked listener workers run the SMTP listeners and the portal on the shared sockets.
 */
export async function startGateway(config: Config): Promise<RunningGateway> {
  initDataDir(config);
  const runtime = await openRuntime(config);
  const { logger, queue } = runtime;
  const workers = listenerWorkers(config);
  // The primary makes the self-signed certificate (if any) before a worker would race to.
  const tls = await loadTls(config);
  // prom-client is loaded only with the admin listener on.
  const metricsModule = config.ops.enabled ? await import('./metrics/index.ts') : undefined;
  const metrics = metricsModule ? new metricsModule.GatewayMetrics('main', () => queue.totals()) : undefined;
  const ownThread = deliveryInOwnThread(config, workers);
  const worker = ownThread ? await startDeliveryThread(config) : createDeliveryService(runtime, metrics);

  const lifecycle = new AuditBatcher(runtime.audit, logger);
  const services: Service[] = [worker];
  let pool: ListenerPool | undefined;
  // With workers the front (SMTP server, portal, inbound checks) is theirs: loaded only here when alone.
  const front = workers === 1 ? await import('./gateway-front.ts') : undefined;
  const smtpListeners: Front['smtpListeners'] = [];
  const listeners: ListenerInfo[] = [];
  if (!ownThread) await worker.start();
  try {
    const housekeeping = createPickupHousekeeping(runtime);
    await housekeeping.start();
    services.push(housekeeping);
    const retention = createRetentionService(runtime);
    await retention.start();
    services.push(retention);
    if (front) {
      const started = await front.startFront({ config, runtime, tls, metrics, notify: () => worker.notify(), lifecycle });
      services.push(...started.services);
      smtpListeners.push(...started.smtpListeners);
      listeners.push(...started.listeners);
    } else {
      const { createListenerPool } = await import('./listener-pool.ts');
      // On SQLite this process is the one writer: each worker's writes would queue on the file's lock.
      const commit = storeUrl(config).startsWith('postgres')
        ? undefined
        : async (call: PrimaryCall) => {
            if (call.kind === 'audit') return void (await Promise.all(call.events.map((event) => lifecycle.add(event))));
            await queue.commitIntake(call.rows);
            worker.notify();
          };
      pool = createListenerPool({ config, count: workers, logger, notify: () => worker.notify(), commit });
      await pool.start();
      services.push(pool);
      listeners.push(...pool.listeners());
    }
    if (metrics && metricsModule) {
      const { EXPOSITION_CONTENT_TYPE, mergeExpositions } = metricsModule;
      const ops = createOpsListener({
        host: config.ops.host,
        port: config.ops.port,
        logger,
        metrics: async () => {
          const own = (await metrics.registry.getMetricsAsJSON()) as MetricsSnapshot;
          const others = await Promise.all([...(ownThread ? [worker.metricsSnapshot()] : []), ...(pool ? pool.metricsSnapshots() : [])]);
          return { body: await mergeExpositions([own, ...others]), contentType: EXPOSITION_CONTENT_TYPE };
        },
        readiness: () => readiness(runtime, worker, pool ? pool.readiness() : Promise.resolve(front!.listenerReadiness(smtpListeners))),
      });
      await ops.start();
      services.push(ops);
      const address = ops.address();
      listeners.push({ name: 'admin', host: address.host, port: address.port, tls: 'none (loopback metrics and health)' });
    }
  } catch (error) {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await runtime.close();
    throw error;
  }
  logger.info({ nodeId: runtime.nodeId, listeners, selfSignedTls: tls.selfSigned, workers }, 'sealgate started');
  // What `config check` warns about, in the log of every start too (plaintext smarthost hops).
  for (const warning of configWarnings(config)) logger.warn({ configWarning: true }, warning);
  let stopped = false;
  return {
    runtime,
    services,
    listeners,
    release: () => worker.release(),
    async stop(reason = {}) {
      if (stopped) return;
      stopped = true;
      const began = performance.now();
      try {
        // Listeners first (no new 250s; with workers, each finishes its sessions and exits),
        // then the delivery worker finishes its in-flight attempts within what is left of the
        // deadline, and gives back the leases of the rest.
        const deadlineMs = config.shutdown.deadlineSeconds * 1000;
        for (const service of [...services].reverse()) {
          const stopping = service === worker ? worker.drain(Math.max(1_000, deadlineMs - (performance.now() - began))) : service.stop();
          await stopping.catch((error) => logger.error({ err: (error as Error).message, service: service.name }, 'stop failed'));
        }
        await lifecycle.flush();
        // The chain's head is signed on the way out, so a later cut shows.
        await runtime.audit.checkpoint().catch((error) => logger.error({ err: (error as Error).message }, 'audit checkpoint at stop failed'));
        await runtime.close();
      } finally {
        // The last line of a run: an operator (or a supervisor's log) sees why and how fast it ended.
        logger.info({ nodeId: runtime.nodeId, signal: reason.signal ?? null, shutdownMs: Math.round(performance.now() - began) }, 'stopped');
      }
    },
  };
}

/** `/readyz`: the store answers within 2 s, every listener is open (in every worker), the delivery loop runs. */
async function readiness(runtime: Runtime, worker: DeliveryService, listenerChecks: Promise<ReadinessCheck[]>): Promise<ReadinessCheck[]> {
  const [store, listeners] = await Promise.all([storeReadiness(runtime), listenerChecks]);
  return [store, ...listeners, { name: 'delivery', ok: worker.alive(), detail: worker.alive() ? undefined : 'the delivery thread has stopped' }];
}
