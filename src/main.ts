/**
 * Composition root (with runtime.ts): load config, pick the store, wire services, handle
 * signals. Only these two files know about concrete stores and how services connect.
 */
import { readFileSync } from 'node:fs';
import { configWarnings, noticeAddress, type Config } from './config/index.ts';
import { AuditBatcher, auditedLogin, type AuditEventInput } from './audit/index.ts';
import type { Envelope, Service } from './kernel/index.ts';
import { createSmtpListener, type ListenerOptions, type SmtpListener } from './smtp/index.ts';
import { ensureSelfSignedCertificate } from './vault/index.ts';
import { initDataDir, openRuntime, type Runtime } from './runtime.ts';
import { createDeliveryService, type DeliveryService } from './delivery-service.ts';
import { Worker } from 'node:worker_threads';
import { Readable } from 'node:stream';
import { createOpsListener, createWebService, type ReadinessCheck, type WebDeps } from './web/index.ts';
import type { Role } from './accounts/index.ts';
import type { GatewayMetrics, MetricsSnapshot } from './metrics/index.ts';
import { sql } from 'kysely';
import { createPickupHousekeeping } from './pickup-service.ts';
import { answerRefusal } from './pickup/index.ts';
import { createNoticeReplyAnswerer } from './notice-replies.ts';
import { inboundE2eFor } from './e2e-inbound-service.ts';
import { createRetentionService, runPurge } from './retention-service.ts';
import { buildComplianceReport } from './compliance-facts.ts';
import { inboundAuthFor, messageAnalyzerFor } from './auth-service.ts';

export interface RunningGateway {
  runtime: Runtime;
  services: Service[];
  listeners: { name: string; host: string; port: number; tls: string }[];
  /**
   * `signal`: what asked the gateway to stop (logged with the time shutdown took). Listeners
   * close first (sessions in DATA get up to a third of `shutdown.deadlineSeconds`, 10 s at
   * most), then in-flight deliveries get the rest of it before their leases are given back.
   */
  stop(reason?: { signal?: NodeJS.Signals }): Promise<void>;
  /** A second SIGTERM: gives the delivery leases back now, so the process may exit at once. */
  release(): Promise<number>;
}

/** The delivery worker in a thread of its own: ingress keeps one core, delivery the other. */
async function startDeliveryThread(config: Config): Promise<DeliveryService> {
  const thread = new Worker(new URL(import.meta.url.endsWith('.ts') ? './delivery-thread.ts' : './delivery-thread.js', import.meta.url), {
    workerData: { config },
    // Delivery streams bodies and keeps little: a small young generation keeps RSS down.
    resourceLimits: { maxYoungGenerationSizeMb: 8 },
  });
  await new Promise<void>((resolve, reject) => {
    thread.once('message', (message) => (message === 'ready' ? resolve() : reject(new Error(`delivery thread said ${String(message)}`))));
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`delivery thread exited with ${code}`)));
  });
  let stopping = false;
  let exited = false;
  let nextRequest = 0;
  const snapshots = new Map<number, (snapshot: MetricsSnapshot) => void>();
  thread.on('message', (message: unknown) => {
    if (typeof message !== 'object' || message === null || !('metrics' in message)) return;
    const { metrics, snapshot } = message as { metrics: number; snapshot: MetricsSnapshot };
    snapshots.get(metrics)?.(snapshot);
    snapshots.delete(metrics);
  });
  // A dead delivery thread must not leave a gateway that accepts mail and never sends it.
  thread.on('exit', (code) => {
    exited = true;
    if (!stopping) {
      process.stderr.write(`sealgate: delivery thread exited (${code}); stopping so a supervisor can restart\n`);
      process.exit(70);
    }
  });
  return {
    name: 'delivery-thread',
    start: async () => undefined,
    notify: () => thread.postMessage('notify'),
    alive: () => !exited,
    // A scrape must not hang on a busy thread: after 2 s it gets the main thread's figures alone.
    metricsSnapshot: () =>
      new Promise<MetricsSnapshot>((resolve) => {
        const id = nextRequest++;
        const timer = setTimeout(() => {
          snapshots.delete(id);
          resolve([]);
        }, 2_000);
        snapshots.set(id, (snapshot) => {
          clearTimeout(timer);
          resolve(snapshot);
        });
        thread.postMessage({ metrics: id });
      }),
    stop: () => drain(config.shutdown.deadlineSeconds * 1000),
    drain: (deadlineMs) => drain(deadlineMs),
    release: () =>
      exited
        ? Promise.resolve(0)
        : new Promise<number>((resolve) => {
            const timer = setTimeout(() => resolve(-1), 5_000);
            const onMessage = (message: unknown) => {
              if (typeof message !== 'object' || message === null || !('released' in message)) return;
              clearTimeout(timer);
              thread.off('message', onMessage);
              resolve((message as { released: number }).released);
            };
            thread.on('message', onMessage);
            thread.postMessage('release');
          }),
  };
  async function drain(deadlineMs: number): Promise<void> {
    stopping = true;
    if (exited) return;
    const stopped = new Promise((resolve) => thread.once('exit', resolve));
    thread.postMessage({ stop: deadlineMs });
    // The thread gives its leases back at the deadline; a little more for that and its close.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stopped, new Promise((r) => (timer = setTimeout(r, deadlineMs + 5_000)))]);
    clearTimeout(timer);
    await thread.terminate();
  }
}

async function loadTls(config: Config): Promise<{ key: string; cert: string; selfSigned: boolean }> {
  if (config.tls.certFile && config.tls.keyFile) {
    return { key: readFileSync(config.tls.keyFile, 'utf8'), cert: readFileSync(config.tls.certFile, 'utf8'), selfSigned: false };
  }
  const pair = await ensureSelfSignedCertificate(config.dataDir, config.hostname);
  return { key: pair.keyPem, cert: pair.certPem, selfSigned: true };
}

/** What the web tier may do with accounts: every console login goes through the audit wrapper. */
function webUsers(runtime: Runtime, logger: Runtime['logger']): WebDeps['users'] {
  const users = runtime.users;
  return {
    login: auditedLogin(runtime.audit, 'console', (u: string, p: string, ip: string, options?: { code?: string; role?: Role | Role[] }) => users.login(u, p, ip, { protocol: 'console', code: options?.code, role: options?.role }), logger),
    isActive: (u) => users.isActive(u),
    rolesOf: (u) => users.rolesOf(u),
    list: () => users.list(),
    setLocked: (u, locked) => users.setLocked(u, locked),
    lockState: (u) => users.lockState(u),
    redeemBreakGlass: (credential, ip) => users.redeemBreakGlass(credential, ip),
    enrolSecondFactor: (u) => users.enrolSecondFactor(u),
    confirmSecondFactor: (u, code) => users.confirmSecondFactor(u, code),
    hasSecondFactor: (u) => users.hasSecondFactor(u),
    requiredSecondFactorRoles: () => users.requiredSecondFactorRoles(),
    setRequiredSecondFactorRoles: (roles) => users.setRequiredSecondFactorRoles(roles),
    configuredSecondFactorRoles: users.configuredSecondFactorRoles,
    add: (u, p) => users.add(u, p),
    grantRole: (u, role) => users.grantRole(u, role),
    revokeRole: (u, role) => users.revokeRole(u, role),
  };
}

/** Most recipients one audit event names; a message to more says how many there were. */
const AUDITED_RECIPIENTS = 100;

/**
 * `message.submitted` (a user's, via SMTP AUTH) or `message.received` (inbound): who, from where, to whom. Never a subject or body.
 * An anonymous submission's pseudonym is here with the HELO name it hides: the admin's link back to the client.
 */
function receivedEvent(envelope: Envelope, id: string): AuditEventInput {
  const recipients = envelope.recipients.map((r) => r.address);
  return {
    actor: envelope.authUser ?? (envelope.mailFrom || '<>'),
    action: envelope.origin === 'submitted' ? 'message.submitted' : 'message.received',
    target: id,
    ip: envelope.clientIp,
    protocol: 'smtp',
    detail: { from: envelope.mailFrom, recipients: recipients.slice(0, AUDITED_RECIPIENTS), count: recipients.length, ...(envelope.pickup ? { pickup: true } : {}), ...(envelope.anonymous ? { anonymous: envelope.anonymous } : {}) },
  };
}

/** `message.decrypted`: Sealgate decrypted an inbound message before storing it; which kind, for whom. Never a key or the content. */
function decryptedEvent(envelope: Envelope, id: string): AuditEventInput[] {
  if (!envelope.decrypted) return [];
  return [{ actor: 'system', action: 'message.decrypted', target: id, ip: envelope.clientIp, protocol: 'smtp', detail: { kind: envelope.decrypted, from: envelope.mailFrom, recipients: envelope.recipients.map((r) => r.address).slice(0, AUDITED_RECIPIENTS) } }];
}

export async function startGateway(config: Config): Promise<RunningGateway> {
  initDataDir(config);
  const runtime = await openRuntime(config);
  const { logger, clock, queue } = runtime;
  const tls = await loadTls(config);
  // prom-client is loaded only with the admin listener on.
  const metricsModule = config.ops.enabled ? await import('./metrics/index.ts') : undefined;
  const metrics = metricsModule ? new metricsModule.GatewayMetrics('main', () => queue.totals()) : undefined;
  const worker = config.delivery.thread ? await startDeliveryThread(config) : createDeliveryService(runtime, metrics);

  const lifecycle = new AuditBatcher(runtime.audit, logger);
  const ingestDeps = {
    logger,
    clock,
    login: auditedLogin(runtime.audit, 'smtp', (username: string, password: string, ip: string) => runtime.users.login(username, password, ip, { protocol: 'smtp' }), logger),
    standingOf: (username: string) => runtime.users.standingOf(username),
    sendersOf: (username: string) => runtime.users.sendersOf(username),
    sealSecret: (secret: string) => runtime.vault.seal(Buffer.from(secret, 'utf8')).toString('base64'),
    answerRefusal,
    answerNoticeReply: createNoticeReplyAnswerer({ config, queue, clock, logger, notify: () => worker.notify() }),
    inboundE2e: inboundE2eFor(config, runtime),
    inboundAuth: inboundAuthFor(runtime),
    ingest: async (envelope: Envelope, body: Readable) => {
      const queued = await queue.enqueue(envelope, body);
      worker.notify();
      // In the chain before the 250. The message is committed already: if the chain cannot be
      // written now, a 4xx would only make the client send it twice, so the gap is logged loudly.
      await Promise.all([receivedEvent(envelope, queued.id), ...decryptedEvent(envelope, queued.id)].map((event) => lifecycle.add(event))).catch((error: Error) => logger.error({ err: error.message, messageId: queued.id }, 'AUDIT GAP: the message was accepted but its audit event could not be written'));
      return queued;
    },
  };
  /** The shared ingress wired for one listener: its sessions and accept times counted under its name. */
  const ingestFor = (name: string) =>
    metrics
      ? {
          ...ingestDeps,
          observeSession: (event: 'opened' | 'refused' | 'closed') => metrics.smtpSession(name, event),
          ingest: async (envelope: Envelope, body: Readable) => {
            const began = performance.now();
            try {
              const queued = await ingestDeps.ingest(envelope, body);
              metrics.smtpAccepted(name, 'accepted', (performance.now() - began) / 1000);
              return queued;
            } catch (error) {
              metrics.smtpAccepted(name, 'refused', (performance.now() - began) / 1000);
              throw error;
            }
          },
        }
      : ingestDeps;
  const base = {
    tls: { key: tls.key, cert: tls.cert },
    hostname: config.hostname,
    localDomains: Object.keys(config.domains),
    domains: config.domains,
    noticeAddress: noticeAddress(config),
    recipientVerification: config.recipientVerification,
    limits: config.limits,
    pickupTag: config.pickup.subjectTag,
    pickupAlways: config.pickup.alwaysForUsers.map((u) => u.toLowerCase()),
    anonymityStripHeaders: config.anonymity.stripHeaders,
    closeGraceMs: Math.min(10_000, Math.floor((config.shutdown.deadlineSeconds * 1000) / 3)),
  };
  const listenerSpecs: { name: string; options: ListenerOptions; tls: string }[] = [];
  const { inbound, submission, submissionTls } = config.listeners;
  if (inbound.enabled) listenerSpecs.push({ name: 'inbound', tls: 'STARTTLS', options: { ...base, role: 'inbound', host: inbound.host, port: inbound.port, implicitTls: false } });
  if (submission.enabled) listenerSpecs.push({ name: 'submission', tls: 'STARTTLS, AUTH', options: { ...base, role: 'submission', host: submission.host, port: submission.port, implicitTls: false, anonymous: submission.anonymous } });
  if (submissionTls.enabled) listenerSpecs.push({ name: 'submission-tls', tls: 'implicit TLS, AUTH', options: { ...base, role: 'submission', host: submissionTls.host, port: submissionTls.port, implicitTls: true, anonymous: submissionTls.anonymous } });

  const services: Service[] = [worker];
  const smtpListeners: { name: string; listener: SmtpListener }[] = [];
  const listeners: RunningGateway['listeners'] = [];
  if (!config.delivery.thread) await worker.start();
  try {
    const housekeeping = createPickupHousekeeping(runtime);
    await housekeeping.start();
    services.push(housekeeping);
    const retention = createRetentionService(runtime);
    await retention.start();
    services.push(retention);
    if (config.web.enabled) {
      const web = createWebService({
        config,
        store: runtime.store,
        pickup: metrics ? countingOpens(runtime.pickup, metrics) : runtime.pickup,
        users: webUsers(runtime, logger),
        audit: runtime.audit,
        compliance: () => buildComplianceReport(runtime),
        purge: (actor) => runPurge(runtime, actor, 'admin-console'),
        analyzeMessage: messageAnalyzerFor(config),
        queue: runtime.queue,
        logger,
        clock,
        tls: { key: tls.key, cert: tls.cert },
        // Codes and read notices go out with the null sender (RFC 3834): never bounced back
        // into the portal, never turned into pickups themselves; marked as our own
        // content-free mail, they take the best link the destination offers.
        sendMail: async (envelope, raw) => {
          const notice = envelope.notice ?? { kind: 'portal-mail' as const };
          await queue.enqueue({ mailFrom: '', recipients: envelope.to.map((address) => ({ address })), requireTls: false, smtpUtf8: false, bodyType: '8BITMIME', notice }, Readable.from([raw]));
          worker.notify();
        },
      });
      await web.start();
      services.push(web);
      const address = web.listening();
      listeners.push({ name: 'portal', host: address.host, port: address.port, tls: 'HTTPS' });
    }
    for (const spec of listenerSpecs) {
      const listener = createSmtpListener(spec.options, ingestFor(spec.name));
      await listener.start();
      smtpListeners.push({ name: spec.name, listener });
      services.push(listener);
      const address = listener.address();
      listeners.push({ name: spec.name, host: address.host, port: address.port, tls: spec.tls });
    }
    if (metrics && metricsModule) {
      const { EXPOSITION_CONTENT_TYPE, mergeExpositions } = metricsModule;
      const ops = createOpsListener({
        host: config.ops.host,
        port: config.ops.port,
        logger,
        metrics: async () => {
          const own = (await metrics.registry.getMetricsAsJSON()) as MetricsSnapshot;
          const others = config.delivery.thread ? [await worker.metricsSnapshot()] : [];
          return { body: await mergeExpositions([own, ...others]), contentType: EXPOSITION_CONTENT_TYPE };
        },
        readiness: () => readiness(runtime, smtpListeners, worker),
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
  logger.info({ nodeId: runtime.nodeId, listeners, selfSignedTls: tls.selfSigned }, 'sealgate started');
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
        // Listeners first (no new 250s), then the worker finishes its in-flight attempts within
        // what is left of the deadline, and gives back the leases of the rest.
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

/** Opens in the portal, counted: a copy whose open succeeded. */
function countingOpens(pickup: Runtime['pickup'], metrics: GatewayMetrics): Runtime['pickup'] {
  const counted = Object.create(pickup) as Runtime['pickup'];
  counted.open = async (...args: Parameters<Runtime['pickup']['open']>) => {
    const opened = await pickup.open(...args);
    metrics.pickup('opened');
    return opened;
  };
  return counted;
}

/** `/readyz`: the store answers within 2 s, every listener is open, the delivery loop runs. */
async function readiness(runtime: Runtime, listeners: { name: string; listener: SmtpListener }[], worker: DeliveryService): Promise<ReadinessCheck[]> {
  let timer: NodeJS.Timeout | undefined;
  const store = await Promise.race([
    sql`select 1`.execute(runtime.store.db).then(() => ({ name: 'store', ok: true })),
    new Promise<ReadinessCheck>((resolve) => (timer = setTimeout(() => resolve({ name: 'store', ok: false, detail: 'the database did not answer within 2 s' }), 2_000))),
  ]).catch((error: Error) => ({ name: 'store', ok: false, detail: `the database refused: ${error.message}` }));
  clearTimeout(timer);
  return [
    store,
    ...listeners.map(({ name, listener }) => ({ name: `listener ${name}`, ok: listener.listening(), detail: listener.listening() ? undefined : 'not listening' })),
    { name: 'delivery', ok: worker.alive(), detail: worker.alive() ? undefined : 'the delivery thread has stopped' },
  ];
}

