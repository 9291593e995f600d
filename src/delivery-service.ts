/**
 * Composition root, delivery side: the worker loop wired to remote delivery. Built in the
 * main thread or, by default, in a thread of its own (delivery-thread.ts) so SMTP ingress
 * and delivery each get a core.
 */
import { readFileSync } from 'node:fs';
import { ConnectionPool, createSecurityAssessor, deliverToDomain, DeliveryWorker, TlsReportSender } from './delivery/index.ts';
import { createSystemResolver } from './dns/index.ts';
import type { EndToEndDeps } from './delivery/index.ts';
import { createSmimeProtector, discoveryConfigured, E2eKeyStore, keyDiscoveryFor, openpgpProtector } from './e2e/index.ts';
import type { Config } from './config/index.ts';
import { outboundSignerFor } from './auth-service.ts';
import type { Service } from './kernel/index.ts';
import { LinkPins, LinkSecurityMemory, TlsReportCounter } from './linksec/index.ts';
import { AuditBatcher } from './audit/index.ts';
import type { Runtime } from './runtime.ts';
import { claimScheduledJob } from './store/index.ts';
import { createNoticeTracker, createPickupDelivery } from './pickup-service.ts';
import { tlsPolicyWithPickup } from './policy/index.ts';
import type { DeliveryObservation, GatewayMetrics, MetricsSnapshot } from './metrics/index.ts';
import type { RecipientResult } from './delivery/index.ts';

export interface DeliveryService extends Service {
  notify(): void;
  /** This side's metrics, for the admin listener to merge (the thread answers over its port). */
  metricsSnapshot(): Promise<MetricsSnapshot>;
  /** False once the delivery loop has died (readiness). */
  alive(): boolean;
  /**
   * Graceful stop: no new leases; in-flight attempts get `deadlineMs` to finish, then what is
   * still running has its leases given back (queued again, never lost; an attempt that finishes
   * later cannot settle a lease it no longer holds).
   */
  drain(deadlineMs: number): Promise<void>;
  /** Gives this node's leases back now (a second SIGTERM, or the deadline passed). */
  release(): Promise<number>;
}

/**
 * What a result says for the metrics. The deferral reason comes from the enhanced status we
 * (or the remote) set, by its RFC 3463 class: 4.7.x security policy, 4.4.3 DNS, other 4.4.x
 * network and routing (no server took it), anything else the remote's own temporary refusal.
 */
export function observationOf(result: RecipientResult): DeliveryObservation {
  const link = result.link ?? 'none';
  if (result.outcome !== 'deferred') return { outcome: result.outcome, link };
  const enhanced = result.enhanced ?? '';
  const deferral = enhanced.startsWith('4.7.') ? 'link-policy' : enhanced === '4.4.3' ? 'dns' : enhanced.startsWith('4.4.') ? 'unreachable' : 'remote-temporary';
  return { outcome: 'deferred', link, deferral };
}

/** The key store and protectors for end-to-end routes (`e2e.encrypt`); undefined when outbound encryption is off. */
export function endToEndDeps(config: Config, runtime: Pick<Runtime, 'store' | 'vault' | 'clock'>): EndToEndDeps | undefined {
  const rules = config.e2e.encrypt;
  if (!rules.outbound) return undefined;
  const everyone = rules.whenKeyKnown.includes('*');
  const senders = new Set(rules.whenKeyKnown.map((s) => s.toLowerCase()));
  const domains = new Map(Object.entries(rules.domains).map(([d, m]) => [d.toLowerCase(), m]));
  const keys = new E2eKeyStore(runtime.store, runtime.vault, { discoveredTrustMs: config.e2e.discovery.trustDays * 24 * 3600 * 1000 });
  const discovery = config.e2e.discovery.atDelivery && discoveryConfigured(config) ? keyDiscoveryFor(config, runtime.store, keys) : undefined;
  return {
    keys,
    protectors: { openpgp: openpgpProtector, smime: createSmimeProtector() },
    clock: runtime.clock,
    discover: discovery ? (address, now) => discovery.discover(address, now) : undefined,
    rules: {
      encryptsWhenKeyKnown: (m) => everyone || (!!m.authUser && senders.has(m.authUser.toLowerCase())) || senders.has(m.mailFrom.toLowerCase()),
      ruleFor: (domain) => domains.get(domain.toLowerCase()),
    },
  };
}

const TLSRPT_JOB = 'tlsrpt';
const TLSRPT_INTERVAL_MS = 3_600_000;
const TLSRPT_CHECK_MS = 60_000;

export function createDeliveryService(runtime: Runtime, metrics?: GatewayMetrics): DeliveryService {
  const { config, logger, clock, queue } = runtime;
  const extraCa = config.delivery.extraCaFiles.map((file) => readFileSync(file));
  const resolver = createSystemResolver({ servers: config.delivery.dnsServers.length ? config.delivery.dnsServers : undefined });
  const pool = new ConnectionPool({ maxPerKey: config.delivery.perDomainConcurrency });
  const signer = outboundSignerFor(runtime);
  const memory = new LinkSecurityMemory(runtime.store);
  const security = createSecurityAssessor(config, runtime.store, resolver, extraCa, logger);
  const pins = new LinkPins(runtime.store);
  // Notices are queued from inside the worker; the worker is told once it exists.
  const toPickup = createPickupDelivery(runtime, () => worker.notify());
  const pickupRules = {
    fallbackOnRequirement: config.pickup.fallbackOnRequirement,
    tlsOrPickupDomains: config.pickup.tlsOrPickupDomains,
    whenNoTls: config.pickup.whenNoTls,
    portal: config.web.enabled,
  };
  const tlsReports = new TlsReportCounter(runtime.store, { now: () => clock.now() });
  // One TLS-RPT round an hour across the cluster: every node checks each minute, the claim picks one.
  const reportSender = new TlsReportSender({
    counter: tlsReports,
    queue,
    resolver,
    hostname: config.hostname,
    logger,
    clock,
    intervalMs: TLSRPT_CHECK_MS,
    claimRound: () => claimScheduledJob(runtime.store, TLSRPT_JOB, runtime.nodeId, TLSRPT_INTERVAL_MS, clock.now()),
  });
  // Each delivery outcome is an audit event, written in batches (one chain for every node).
  const lifecycle = new AuditBatcher(runtime.audit, logger);
  const worker = new DeliveryWorker(
    {
      nodeId: runtime.nodeId,
      hostname: config.hostname,
      concurrency: config.delivery.concurrency,
      perDomainConcurrency: config.delivery.perDomainConcurrency,
      leaseMs: config.queue.leaseMs,
      pollIntervalMs: config.queue.pollIntervalMs,
      retry: config.queue,
      routing: { domains: config.domains },
      pickup: pickupRules,
      // An SMTP upload cannot outlive its session: pieces older than that (and a minute) with
      // no message row were cut off.
      orphanSweep: { intervalMs: config.queue.orphanSweepIntervalMs, olderThanMs: config.limits.sessionTimeoutMs + 60_000 },
    },
    {
      queue,
      logger,
      clock,
      toPickup: async (job, recipients, reason, bestLink) => {
        const held = await toPickup(job, recipients, reason, bestLink);
        metrics?.pickup('created', held.filter((r) => r.outcome === 'delivered').length);
        return held;
      },
      noticeSettled: createNoticeTracker(runtime),
      audit: lifecycle,
      endToEnd: endToEndDeps(config, runtime),
      deliver: async (job) => {
        const began = performance.now();
        const attempt = await deliverToDomain(job, {
          resolver,
          heloName: config.hostname,
          port: config.delivery.port,
          tlsPolicyFor: (domain, job) =>
            tlsPolicyWithPickup(config.delivery.tlsPolicies[domain.toLowerCase()] ?? config.delivery.defaultTlsPolicy, domain, job.route.kind, job, pickupRules),
          extraCa,
          connectTimeoutMs: config.delivery.connectTimeoutMs,
          commandTimeoutMs: config.delivery.commandTimeoutMs,
          ipFamilies: config.delivery.ipFamilies,
          logger,
          clock,
          pool,
          security,
          pinFor: (domain) => pins.pinOf(domain),
          signer,
          report: (result) =>
            void tlsReports.record({ ...result, at: clock.now() }).catch((error: Error) => logger.warn({ err: error.message, domain: result.policyDomain }, 'TLS-RPT count failed')),
          recall: (domain) => memory.proven(domain, clock.now()),
          observe: (observation) =>
            void memory.record(observation).catch((error: Error) => logger.warn({ err: error.message, domain: observation.domain }, 'link-security record failed')),
        });
        metrics?.deliveryAttempt(attempt.results.map(observationOf), (performance.now() - began) / 1000);
        return attempt;
      },
    },
  );
  async function release(): Promise<number> {
    const released = await queue.releaseLeases(runtime.nodeId);
    if (released) logger.warn({ released }, 'shutdown: in-flight deliveries given back to the queue (sent at the next start or by another node)');
    return released;
  }
  async function drain(deadlineMs: number): Promise<void> {
    await reportSender.stop();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      worker.stop().then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.min(deadlineMs, 2 ** 31 - 1)))),
    ]);
    clearTimeout(timer);
    if (!finished) await release().catch((error: Error) => logger.error({ err: error.message }, 'shutdown: leases could not be given back; they expire after queue.leaseMs'));
    await lifecycle.flush();
    pool.closeAll();
  }
  return {
    name: 'delivery',
    async start() {
      await worker.start();
      await reportSender.start();
    },
    stop: () => drain(Number.POSITIVE_INFINITY),
    drain: (deadlineMs) => drain(deadlineMs),
    release,
    notify: () => worker.notify(),
    metricsSnapshot: async () => (metrics ? ((await metrics.registry.getMetricsAsJSON()) as MetricsSnapshot) : []),
    alive: () => true,
  };
}

