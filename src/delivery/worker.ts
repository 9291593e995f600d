import type { Readable } from 'node:stream';
import type { Clock, DeliveryReceipt, DsnNotify, Envelope, LinkRequirement, Logger, Service } from '../kernel/index.ts';
import { crashPoint } from '../kernel/index.ts';
import type { PickupRules, Route, RoutingTable } from '../policy/index.ts';
import { routeFor } from '../policy/index.ts';
import type { LeasedGroup, Queue, RetryOptions, Settlement } from '../queue/index.ts';
import { delayNoticeDue, nextAttempt } from '../queue/index.ts';
import type { AuditBatcher } from '../audit/index.ts';
import { settlementEvents } from './audit-events.ts';
import { queueReport, type BounceEntry } from './bounce.ts';
import type { EndToEndDeps } from './e2e-route.ts';
import { noticeReport, tellNoticeOutcomes, type NoticeOutcome } from './notices.ts';
import { emptyReceipt, RouteExecutor } from './route-executor.ts';

/**
 * What one SMTP transaction to a destination domain needs (see remote.ts). A required link
 * level that no MX meets makes the message bounce at once.
 */
export interface DomainJob extends Pick<Envelope, 'mailFrom' | 'requireTls' | 'requiredLevel' | 'tlsOptional' | 'smtpUtf8' | 'bodyType' | 'dsnRet' | 'dsnEnvid' | 'origin' | 'authUser' | 'pickupControl' | 'notice' | 'authHeaders'> {
  domain: string;
  /** The queue id of the message (a pickup's notice names it). */
  messageId?: string;
  recipients: { id: number; address: string; notify?: DsnNotify[]; orcpt?: string }[];
  openBody: () => Promise<Readable>;
  size: number;
  route: Route;
}

export interface RecipientResult {
  recipientId: number;
  outcome: 'delivered' | 'deferred' | 'failed';
  reply: string;
  enhanced?: string;
  receipt: DeliveryReceipt;
  /** Delivered: the link level the session reached. */
  link?: LinkRequirement;
  /** Refused by link policy: the best level any MX reached (what a notice would get there). */
  bestLink?: LinkRequirement;
}

export type DeliverFn = (job: DomainJob) => Promise<{ results: RecipientResult[] }>;

/**
 * Holds the recipients' copies for Secure Message Pickup and queues their notices. `bestLink`:
 * the best level an MX of the domain reached, when a delivery attempt found it (the link the
 * notice will most likely get).
 */
export type PickupFn = (job: DomainJob, recipients: DomainJob['recipients'], reason: string, bestLink?: LinkRequirement) => Promise<RecipientResult[]>;


export interface WorkerOptions {
  nodeId: string;
  hostname: string;
  concurrency: number;
  perDomainConcurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  retry: RetryOptions;
  routing: RoutingTable;
  pickup?: PickupRules;
  /**
   * Pieces of bodies whose upload was cut off (no message row ever came) are deleted every
   * `intervalMs` once older than `olderThanMs`, not only at start: a cluster node may run for
   * months while others crash mid-upload.
   */
  orphanSweep?: { intervalMs: number; olderThanMs: number };
}

const LEASE_COALESCE_MS = 5;
/** Settle retries while the database is away (restart, fail-over): a settle is idempotent under its lease. */
const SETTLE_RETRY_MS = [100, 300, 1000, 2000, 4000];

function statusOf(result: { enhanced?: string; reply: string }, fallback: string): string {
  if (result.enhanced && /^[245]\.\d{1,3}\.\d{1,3}$/.test(result.enhanced)) return result.enhanced;
  const match = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(result.reply) ?? /\b([45]\.\d{1,3}\.\d{1,3})\b/.exec(result.reply);
  return match ? match[1] : fallback;
}

/**
 * The delivery loop: lease due work, deliver each (message, domain) group, settle.
 * A failure inside one group is logged and deferred; the loop itself never dies.
 */
export class DeliveryWorker implements Service {
  readonly name = 'delivery';
  private readonly options: WorkerOptions;
  private readonly queue: Queue;
  private readonly executor: RouteExecutor;
  private readonly toPickup?: PickupFn;
  private readonly noticeSettled?: (outcome: NoticeOutcome) => Promise<void>;
  /** The audit chain's group commit: each recorded outcome is an event. */
  private readonly audit?: Pick<AuditBatcher, 'add'>;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private running = false;
  private active = 0;
  /** Groups whose remote answered, settling: their slots are free, bounded apart (`concurrency` more). */
  private settling = 0;
  private readonly activePerDomain = new Map<string, number>();
  /** Groups whose attempt is in progress: the heartbeat renews their leases. */
  private readonly attempts = new Set<LeasedGroup>();
  private heartbeat: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private wake: (() => void) | null = null;
  /** A wake-up that came while the loop was busy leasing; it must not be lost. */
  private wakePending = false;
  private loopDone: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: WorkerOptions, deps: { queue: Queue; deliver: DeliverFn; toPickup?: PickupFn; endToEnd?: EndToEndDeps; noticeSettled?: (outcome: NoticeOutcome) => Promise<void>; audit?: Pick<AuditBatcher, 'add'>; logger: Logger; clock: Clock }) {
    this.options = options;
    this.queue = deps.queue;
    this.executor = new RouteExecutor({ deliver: deps.deliver, toPickup: deps.toPickup, endToEnd: deps.endToEnd, clock: deps.clock });
    this.toPickup = deps.toPickup;
    this.noticeSettled = deps.noticeSettled;
    this.audit = deps.audit;
    this.logger = deps.logger.child({ module: 'delivery' });
    this.clock = deps.clock;
  }

  async start(): Promise<void> {
    const released = await this.queue.releaseLeases(this.options.nodeId);
    const reaped = await this.queue.reapFinished();
    const swept = await this.queue.sweepTemp();
    if (released || reaped || swept) this.logger.info({ released, reaped, swept }, 'recovered after restart');
    this.running = true;
    this.loopDone = this.loop();
    // A third of the lease: two renewals may fail (a database restart) before it runs out.
    this.heartbeat = setInterval(() => void this.renewLeases(), Math.max(50, Math.floor(this.options.leaseMs / 3)));
    this.heartbeat.unref();
    const sweep = this.options.orphanSweep;
    if (sweep) {
      this.sweeper = setInterval(() => {
        // Stray keys too, not only at start: a crash mid-upload on another node leaves one.
        Promise.all([this.queue.sweepTemp(sweep.olderThanMs), this.queue.sweepStrayKeys()]).then(
          ([swept, keys]) => (swept || keys) && this.logger.info({ swept, keys }, 'pieces of interrupted uploads removed'),
          (error: Error) => this.logger.warn({ err: error.message }, 'orphan sweep failed'),
        );
      }, sweep.intervalMs);
      this.sweeper.unref();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight]);
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
  }

  /** Heartbeat: keeps the leases of attempts in progress; the loop never dies of it. */
  private async renewLeases(): Promise<void> {
    if (this.attempts.size === 0) return;
    try {
      const tokens = [...new Set([...this.attempts].map((g) => g.lease.token))];
      const held = await this.queue.renew(tokens, this.options.leaseMs);
      for (const group of this.attempts) {
        const lost = group.recipients.filter((r) => !held.has(r.id));
        if (lost.length) this.logger.warn({ messageId: group.messageId, domain: group.domain, lost: lost.length }, 'lease lost during an attempt; its result will be dropped');
      }
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'lease renewal failed');
    }
  }

  /** Called after an enqueue so new mail goes out without waiting for the next poll. */
  notify(): void {
    this.wakePending = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      // Every lease is a write; a few ms lets a burst of enqueues share one.
      if (this.wakePending) await new Promise((r) => setTimeout(r, LEASE_COALESCE_MS));
      this.wakePending = false;
      let leased = 0;
      const free = Math.min(this.options.concurrency - this.active, 2 * this.options.concurrency - this.active - this.settling);
      if (free > 0) {
        try {
          leased = await this.leaseAndStart(free);
        } catch (error) {
          this.logger.error({ err: (error as Error).message }, 'lease failed');
        }
      }
      const full = free <= 0 || this.active >= this.options.concurrency;
      // Wait unless a wake-up arrived meanwhile and there is a free slot to use it.
      if ((leased === 0 || full) && !(this.wakePending && !full)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.pollIntervalMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => {
      this.inFlight.delete(work);
      this.notify();
    });
  }

  /**
   * Leases only what can start now: domains at their per-domain limit are skipped, groups
   * are picked to fit each domain's free slots, and any beyond them (a race) go back at once. A leased group that had
   * to wait for a slot would spend its lease waiting (and be sent twice when it ran out).
   */
  private async leaseAndStart(free: number): Promise<number> {
    const saturated = [...this.activePerDomain].filter(([, n]) => n >= this.options.perDomainConcurrency).map(([domain]) => domain);
    const slotsFor = (domain: string) => this.options.perDomainConcurrency - (this.activePerDomain.get(domain) ?? 0);
    const groups = await this.queue.lease(this.options.nodeId, free, this.options.leaseMs, { skipDomains: saturated, slotsFor });
    const giveBack: LeasedGroup[] = [];
    let started = 0;
    for (const group of groups) {
      const count = this.activePerDomain.get(group.domain) ?? 0;
      if (this.active >= this.options.concurrency || count >= this.options.perDomainConcurrency) {
        giveBack.push(group);
        continue;
      }
      this.active++;
      this.activePerDomain.set(group.domain, count + 1);
      this.track(this.runGroup(group));
      started++;
    }
    if (giveBack.length) await this.queue.release(giveBack[0].lease, giveBack.flatMap((g) => g.recipients.map((r) => r.id)));
    return started;
  }

  private releaseDomain(domain: string): void {
    const count = (this.activePerDomain.get(domain) ?? 1) - 1;
    if (count <= 0) this.activePerDomain.delete(domain);
    else this.activePerDomain.set(domain, count);
  }

  /**
   * Runs a group whose slots (`active`, per domain) the caller has taken. The slots are the
   * remote's: they are given back once it answered, and the group settles (a commit, its
   * sync, the audit events) while the next one is sent; its lease stays renewed until then.
   */
  private async runGroup(group: LeasedGroup): Promise<void> {
    this.attempts.add(group);
    let sending = true;
    const giveBack = () => {
      this.releaseDomain(group.domain);
      this.active--;
    };
    const freeSlots = () => {
      if (!sending) return;
      sending = false;
      giveBack();
      this.settling++;
      // No wake-up of its own: a lease now could take this group's lapsed lease from under its
      // settle (att-lapsed-lease-report); the next enqueue, poll or finished group fills the slot.
    };
    try {
      await this.deliverGroup(group, freeSlots);
    } catch (error) {
      // The lease expires and another attempt follows; nothing is lost.
      this.logger.error({ err: (error as Error).message, messageId: group.messageId, domain: group.domain }, 'delivery group failed');
    } finally {
      this.attempts.delete(group);
      if (sending) giveBack();
      else this.settling--;
    }
  }

  private async deliverGroup(leased: LeasedGroup, freeSlots: () => void): Promise<void> {
    // Still ours? A node that paused past its lease (SIGSTOP, a long GC, a VM migration) must
    // not send what another node has taken over, maybe delivered and deleted meanwhile.
    const held = await this.queue.holding(leased.lease, leased.recipients.map((r) => r.id));
    if (held.size < leased.recipients.length) {
      this.logger.warn({ messageId: leased.messageId, domain: leased.domain, dropped: leased.recipients.length - held.size }, 'lease lost before the attempt; dropping stale work');
      if (held.size === 0) return;
    }
    const group: LeasedGroup = { ...leased, recipients: leased.recipients.filter((r) => held.has(r.id)) };
    const { envelope } = group;
    const job: DomainJob = {
      domain: group.domain,
      messageId: group.messageId,
      mailFrom: envelope.mailFrom,
      recipients: group.recipients.map((r) => ({ id: r.id, address: r.address, notify: r.notify, orcpt: r.orcpt })),
      openBody: () => this.queue.openBody(group.messageId, group.storedBody),
      size: group.size,
      requireTls: envelope.requireTls,
      requiredLevel: envelope.requiredLevel,
      tlsOptional: envelope.tlsOptional,
      smtpUtf8: envelope.smtpUtf8,
      bodyType: envelope.bodyType,
      dsnRet: envelope.dsnRet,
      dsnEnvid: envelope.dsnEnvid,
      origin: envelope.origin,
      authUser: envelope.authUser,
      pickupControl: envelope.pickupControl,
      notice: envelope.notice,
      authHeaders: envelope.authHeaders,
      route: routeFor(group.domain, this.options.routing),
    };
    let results: RecipientResult[];
    try {
      // Without a way to hold for pickup, pickup is not a route at all (not even a refused request).
      const pickup = this.toPickup ? this.options.pickup : undefined;
      const facts = await this.executor.factsFor(job, { message: envelope, domain: job.domain, destination: job.route, pickup });
      results = await this.executor.execute(job, facts);
      crashPoint('after-remote-accept'); // the remote has it; our queue does not know yet
    } catch (error) {
      const now = this.clock.now();
      const reply = `451 4.3.0 Internal error during delivery: ${(error as Error).message}`;
      this.logger.error({ err: (error as Error).message, messageId: group.messageId }, 'deliver threw');
      results = group.recipients.map((r) => ({
        recipientId: r.id,
        outcome: 'deferred' as const,
        reply,
        receipt: emptyReceipt(this.clock, r.address, reply, 'deferred'),
      }));
    }
    freeSlots();
    await this.settleGroup(group, results);
  }

  private async settleGroup(group: LeasedGroup, results: RecipientResult[]): Promise<void> {
    const now = this.clock.now();
    const settlements: Settlement[] = [];
    const failures: BounceEntry[] = [];
    const delays: BounceEntry[] = [];
    for (const recipient of group.recipients) {
      let result = results.find((r) => r.recipientId === recipient.id);
      if (!result) {
        settlements.push({ recipientId: recipient.id, state: 'queued', reply: '451 4.3.0 No result from delivery', nextAttemptAt: now + this.options.retry.retryScheduleMs[0] });
        continue;
      }
      const remoteMta = result.receipt.mxHost ?? undefined;
      // The signed receipt names the envelope sender (the queue signs it at settle).
      result = { ...result, receipt: { ...result.receipt, mailFrom: group.envelope.mailFrom } };
      if (result.outcome === 'delivered') {
        settlements.push({ recipientId: recipient.id, state: 'delivered', reply: result.reply, receipt: result.receipt });
      } else if (result.outcome === 'failed') {
        settlements.push({ recipientId: recipient.id, state: 'failed', reply: result.reply, receipt: result.receipt });
        failures.push({ address: recipient.address, orcpt: recipient.orcpt, status: statusOf(result, '5.0.0'), reply: result.reply, remoteMta });
      } else {
        const next = nextAttempt(this.options.retry, recipient.attempts + 1, group.createdAt, now);
        if (next === 'expired') {
          const days = Math.round(this.options.retry.maxAgeMs / 86_400_000);
          const reply = `Delivery gave up after ${days} day(s) of retries; last reply: ${result.reply}`;
          settlements.push({ recipientId: recipient.id, state: 'failed', reply, receipt: result.receipt });
          failures.push({ address: recipient.address, orcpt: recipient.orcpt, status: '4.4.7', reply, remoteMta });
        } else {
          settlements.push({ recipientId: recipient.id, state: 'queued', reply: result.reply, nextAttemptAt: next, receipt: result.receipt });
          delays.push({ address: recipient.address, orcpt: recipient.orcpt, status: statusOf(result, '4.0.0'), reply: result.reply, remoteMta });
        }
      }
    }
    const reportingMta = this.options.hostname;
    if (failures.length || delays.length) {
      // A report for recipients this lease no longer holds would be another node's to send.
      // A lapsed lease nobody took over still settles below, so it still reports.
      const held = await this.queue.holding(group.lease, group.recipients.map((r) => r.id), { expired: 'ok' });
      const keep = (entries: BounceEntry[]) => entries.filter((e) => group.recipients.some((r) => r.address === e.address && held.has(r.id)));
      const failed = keep(failures);
      const delayed = keep(delays);
      // A pickup notice goes out with the null sender; its failure is reported to the pickup's sender.
      if (failed.length) await queueReport(this.queue, group, 'failure', failed, reportingMta, now, undefined, noticeReport(group.envelope.notice, 'failure'));
      // One delay notice per message, not per domain group: claimed atomically (read at lease
      // time, the flag is stale as soon as a second group of the message runs).
      if (delayed.length && delayNoticeDue(this.options.retry, group.createdAt, now, group.delayNoticeSent) && (await this.queue.claimDelayNotice(group.messageId))) {
        await queueReport(this.queue, group, 'delay', delayed, reportingMta, now, group.createdAt + this.options.retry.maxAgeMs, noticeReport(group.envelope.notice, 'delay'));
      }
    }
    if (this.noticeSettled) await tellNoticeOutcomes(group, settlements, results, this.noticeSettled, this.logger);
    const { done, stale } = await this.settleWithRetry(group, settlements);
    if (this.audit) {
      const audit = this.audit;
      await Promise.all(settlementEvents(group, settlements, stale, this.options.nodeId).map((event) => audit.add(event))).catch((error: Error) =>
        this.logger.error({ err: error.message, messageId: group.messageId }, 'AUDIT GAP: delivery outcomes settled but not written to the audit log'));
    }
    this.logger.info(
      { messageId: group.messageId, domain: group.domain, delivered: settlements.filter((s) => s.state === 'delivered').length, failed: failures.length, deferred: delays.length },
      'delivery attempt settled',
    );
    if (failures.length || done) this.notify();
  }

  /**
   * The remote has answered; losing that to a database restart would send the message
   * again. A settle is idempotent under its lease (a second one changes nothing), so it is
   * retried while the database comes back.
   */
  private async settleWithRetry(group: LeasedGroup, settlements: Settlement[]): Promise<{ done: boolean; stale: number[] }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.queue.settleReport(group.messageId, group.lease, settlements);
      } catch (error) {
        if (attempt >= SETTLE_RETRY_MS.length) throw error;
        this.logger.warn({ err: (error as Error).message, messageId: group.messageId }, 'settle failed; retrying');
        await new Promise((r) => setTimeout(r, SETTLE_RETRY_MS[attempt]));
      }
    }
  }
}
