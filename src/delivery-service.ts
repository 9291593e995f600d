/**
 * Composition root, delivery side: the worker loop wired to remote delivery. Built in the
 * main thread or, by default, in a thread of its own (delivery-thread.ts) so SMTP ingress
 * and delivery each get a core.
 */
import { readFileSync } from 'node:fs';
import { ConnectionPool, deliverToDomain, DeliveryWorker, SecurityAssessor } from './delivery/index.ts';
import { createSecureResolver, createSystemResolver, type Resolver } from './dns/index.ts';
import type { Logger, Service } from './kernel/index.ts';
import { LinkPins, LinkSecurityMemory, MtaStsCache } from './linksec/index.ts';
import type { Config } from './config/index.ts';
import type { Store } from './store/index.ts';
import tls from 'node:tls';
import type { Runtime } from './runtime.ts';

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
    },
    {
      queue,
      logger,
      clock,
      deliver: (job) =>
        deliverToDomain(job, {
          resolver,
          heloName: config.hostname,
          port: config.delivery.port,
          tlsPolicyFor: (domain: string) => config.delivery.tlsPolicies[domain.toLowerCase()] ?? config.delivery.defaultTlsPolicy,
          extraCa,
          connectTimeoutMs: config.delivery.connectTimeoutMs,
          commandTimeoutMs: config.delivery.commandTimeoutMs,
          ipFamilies: config.delivery.ipFamilies,
          logger,
          clock,
          pool,
          security,
          pinFor: (domain) => pins.cachedPin(domain, clock.now()),
          observe: (observation) =>
            void memory.record(observation).catch((error: Error) => logger.warn({ err: error.message, domain: observation.domain }, 'link-security record failed')),
        }),
    },
  );
  return {
    name: 'delivery',
    async start() {
      await pins.refresh(clock.now());
      await worker.start();
    },
    async stop() {
      await worker.stop();
      pool.closeAll();
    },
    notify: () => worker.notify(),
  };
}

/** DANE (only with a named validating resolver) and MTA-STS, as the config says. */
export function createSecurityAssessor(config: Config, store: Store, resolver: Resolver, extraCa: Buffer[], logger: Logger): SecurityAssessor {
  const secure = config.delivery.dnssecResolvers.length ? createSecureResolver({ servers: config.delivery.dnssecResolvers, timeoutMs: 5000 }) : undefined;
  const mtaSts = config.delivery.mtaSts.enabled
    ? new MtaStsCache(store, {
        resolveTxt: (name) => resolver.resolveTxt(name),
        ca: extraCa.length ? [...tls.rootCertificates.map((pem) => Buffer.from(pem)), ...extraCa] : undefined,
        port: config.delivery.mtaSts.port,
        connectAddress: async (host) => (await resolver.resolve4(host))[0],
      })
    : undefined;
  return new SecurityAssessor({ secure, mtaSts, logger });
}
