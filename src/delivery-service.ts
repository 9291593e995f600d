/**
 * Composition root, delivery side: the worker loop wired to remote delivery. Built in the
 * main thread or, by default, in a thread of its own (delivery-thread.ts) so SMTP ingress
 * and delivery each get a core.
 */
import { readFileSync } from 'node:fs';
import { ConnectionPool, createSecurityAssessor, deliverToDomain, DeliveryWorker, TlsReportSender } from './delivery/index.ts';
import { createSystemResolver } from './dns/index.ts';
import type { Service } from './kernel/index.ts';
import { LinkPins, LinkSecurityMemory, TlsReportCounter } from './linksec/index.ts';
import type { Runtime } from './runtime.ts';
import { createNoticeTracker, createPickupDelivery } from './pickup-service.ts';
import { tlsPolicyWithPickup } from './policy/index.ts';

export interface DeliveryService extends Service {
  notify(): void;
}

export function createDeliveryService(runtime: Runtime): DeliveryService {
  const { config, logger, clock, queue } = runtime;
  const extraCa = config.delivery.extraCaFiles.map((file) => readFileSync(file));
  const resolver = createSystemResolver({ servers: config.delivery.dnsServers.length ? config.delivery.dnsServers : undefined });
  const pool = new ConnectionPool();
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
  const reportSender = new TlsReportSender({ counter: tlsReports, queue, resolver, hostname: config.hostname, logger, clock });
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
      toPickup: (job, recipients, reason, bestLink) => toPickup(job, recipients, reason, bestLink),
      noticeSettled: createNoticeTracker(runtime),
      deliver: (job) =>
        deliverToDomain(job, {
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
          report: (result) =>
            void tlsReports.record({ ...result, at: clock.now() }).catch((error: Error) => logger.warn({ err: error.message, domain: result.policyDomain }, 'TLS-RPT count failed')),
          recall: (domain) => memory.proven(domain, clock.now()),
          observe: (observation) =>
            void memory.record(observation).catch((error: Error) => logger.warn({ err: error.message, domain: observation.domain }, 'link-security record failed')),
        }),
    },
  );
  return {
    name: 'delivery',
    async start() {
      await worker.start();
      await reportSender.start();
    },
    async stop() {
      await reportSender.stop();
      await worker.stop();
      pool.closeAll();
    },
    notify: () => worker.notify(),
  };
}

