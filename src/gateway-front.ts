/**
 * Composition root, the front: the SMTP listeners and the portal, wired to one runtime. Built
 * by main.ts in the single process (`serve.workers: 1`) and by each listener worker of a
 * cluster (listener-worker.ts); `notify` wakes the delivery loop, wherever it runs.
 */
import { Readable } from 'node:stream';
import { noticeAddress, type Config } from './config/index.ts';
import { AuditBatcher, auditedLogin, type AuditEventInput } from './audit/index.ts';
import type { Envelope, Service } from './kernel/index.ts';
import { createSmtpListener, type ListenerOptions, type SmtpListener } from './smtp/index.ts';
import type { GatewayTls } from './gateway-shared.ts';
import type { Runtime } from './runtime.ts';

export { loadTls, storeReadiness, type GatewayTls } from './gateway-shared.ts';
import { createWebService, type ReadinessCheck, type WebDeps } from './web/index.ts';
import type { Role } from './accounts/index.ts';
import type { GatewayMetrics } from './metrics/index.ts';
import { answerRefusal } from './pickup/index.ts';
import { createNoticeReplyAnswerer } from './notice-replies.ts';
import { inboundE2eFor } from './e2e-inbound-service.ts';
import { runPurge } from './retention-service.ts';
import { buildComplianceReport } from './compliance-facts.ts';
import { inboundAuthFor, messageAnalyzerFor } from './auth-service.ts';

export interface ListenerInfo {
  name: string;
  host: string;
  port: number;
  tls: string;
}

/** What the web tier may do with accounts: every console login goes through the audit wrapper. */
function webUsers(runtime: Runtime, logger: Runtime['logger']): WebDeps['users'] {
  const users = runtime.users;
  const check = (u: string, p: string, ip: string, options?: { code?: string; role?: Role | Role[] }) => users.login(u, p, ip, { protocol: 'console', code: options?.code, role: options?.role });
  // One budget, two audit protocols: an auditor tells guesses at the admin console from a sender's typo.
  const consoleLogin = auditedLogin(runtime.audit, 'console', check, logger);
  const adminLogin = auditedLogin(runtime.audit, 'admin-console', check, logger);
  return {
    login: (u, p, ip, options) => (options?.area === 'admin' ? adminLogin : consoleLogin)(u, p, ip, options),
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

export interface FrontDeps {
  config: Config;
  runtime: Runtime;
  tls: GatewayTls;
  metrics?: GatewayMetrics;
  /** After each enqueue: wakes the delivery loop (in this process, its thread or the primary). */
  notify(): void;
  /** Batches the lifecycle audit events; flushed by the caller at stop. */
  lifecycle: AuditBatcher;
}

export interface Front {
  /** Started, in start order: the portal, then the SMTP listeners. */
  services: Service[];
  smtpListeners: { name: string; listener: SmtpListener }[];
  listeners: ListenerInfo[];
}

/** Starts the portal and the SMTP listeners; on a failure, stops what it started and throws. */
export async function startFront({ config, runtime, tls, metrics, notify, lifecycle }: FrontDeps): Promise<Front> {
  const { logger, clock, queue } = runtime;
  const ingestDeps = {
    logger,
    clock,
    login: auditedLogin(runtime.audit, 'smtp', (username: string, password: string, ip: string) => runtime.users.login(username, password, ip, { protocol: 'smtp' }), logger),
    standingOf: (username: string) => runtime.users.standingOf(username),
    sendersOf: (username: string) => runtime.users.sendersOf(username),
    sealSecret: (secret: string) => runtime.vault.seal(Buffer.from(secret, 'utf8')).toString('base64'),
    answerRefusal,
    answerNoticeReply: createNoticeReplyAnswerer({ config, queue, clock, logger, notify }),
    inboundE2e: inboundE2eFor(config, runtime),
    inboundAuth: inboundAuthFor(runtime),
    ingest: async (envelope: Envelope, body: Readable) => {
      const queued = await queue.enqueue(envelope, body);
      notify();
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

  const front: Front = { services: [], smtpListeners: [], listeners: [] };
  try {
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
          notify();
        },
      });
      await web.start();
      front.services.push(web);
      const address = web.listening();
      front.listeners.push({ name: 'portal', host: address.host, port: address.port, tls: 'HTTPS' });
    }
    for (const spec of listenerSpecs) {
      const listener = createSmtpListener(spec.options, ingestFor(spec.name));
      await listener.start();
      front.smtpListeners.push({ name: spec.name, listener });
      front.services.push(listener);
      const address = listener.address();
      front.listeners.push({ name: spec.name, host: address.host, port: address.port, tls: spec.tls });
    }
  } catch (error) {
    for (const service of [...front.services].reverse()) await service.stop().catch(() => undefined);
    throw error;
  }
  return front;
}

/** The readiness of one process's SMTP listeners: each is open. */
export function listenerReadiness(listeners: { name: string; listener: SmtpListener }[]): ReadinessCheck[] {
  return listeners.map(({ name, listener }) => ({ name: `listener ${name}`, ok: listener.listening(), detail: listener.listening() ? undefined : 'not listening' }));
}
