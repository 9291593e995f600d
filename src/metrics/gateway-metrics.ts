/**
 * The gateway's Prometheus metrics (prom-client), one registry per thread: the main thread
 * (listeners, portal, queue depth) and the delivery thread (attempts) each keep their own, as
 * does each listener worker process (`serve.workers`), and the admin listener merges them at
 * scrape time (`mergeExpositions`).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type SmtpSessionEvent = 'opened' | 'refused' | 'closed';

/** Why an attempt was deferred: from its typed result, never from reply text matching. */
export type DeferralReason = 'link-policy' | 'dns' | 'unreachable' | 'remote-temporary';

export interface DeliveryObservation {
  outcome: 'delivered' | 'deferred' | 'failed';
  /** The link level reached (delivered) or `none`. */
  link: string;
  deferral?: DeferralReason;
}

export interface QueueDepth {
  messages: number;
  bytes: number;
  recipients: { queued: number; held: number; leased: number };
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly sessions: Counter<'listener' | 'event'>;
  private readonly openSessions: Gauge<'listener'>;
  private readonly accepted: Histogram<'listener' | 'result'>;
  private readonly deliveries: Counter<'result' | 'link'>;
  private readonly deferrals: Counter<'reason'>;
  private readonly attemptSeconds: Histogram<'result'>;
  private readonly pickups: Counter<'event'>;

  /** `queueDepth`: read at scrape time (the database is the truth, shared by every node). */
  constructor(thread: 'main' | 'delivery' | 'listener', queueDepth?: () => Promise<QueueDepth>) {
    this.registry.setDefaultLabels({ thread });
    // Event-loop lag, heap, GC and process figures come with prom-client's defaults.
    collectDefaultMetrics({ register: this.registry, prefix: 'sealgate_' });
    const registers = [this.registry];
    this.sessions = new Counter({ name: 'sealgate_smtp_sessions_total', help: 'SMTP sessions by listener: opened, refused at connect (limits), closed.', labelNames: ['listener', 'event'], registers });
    this.openSessions = new Gauge({ name: 'sealgate_smtp_sessions_open', help: 'SMTP sessions open now, by listener.', labelNames: ['listener'], registers });
    this.accepted = new Histogram({
      name: 'sealgate_smtp_accept_seconds',
      help: 'From the first byte of DATA to the durable commit (the 250) or the refusal, by listener and result.',
      labelNames: ['listener', 'result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.deliveries = new Counter({ name: 'sealgate_deliveries_total', help: 'Delivery outcomes per recipient, by result and the link level reached.', labelNames: ['result', 'link'], registers });
    this.deferrals = new Counter({ name: 'sealgate_deferrals_total', help: 'Deferred recipients by reason: link-policy (no MX met the required link level), dns (lookups failed), unreachable (no MX accepted a connection or the message), remote-temporary (a 4xx reply to the recipient).', labelNames: ['reason'], registers });
    this.attemptSeconds = new Histogram({
      name: 'sealgate_delivery_attempt_seconds',
      help: 'Duration of one delivery attempt to a domain (all its MX hosts), by the result of its first recipient.',
      labelNames: ['result'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.pickups = new Counter({ name: 'sealgate_pickups_total', help: 'Secure Message Pickup: copies created, and opens in the portal.', labelNames: ['event'], registers });
    if (queueDepth) {
      // One read serves the three gauges of a scrape (prom-client collects each gauge in turn).
      let pending: Promise<QueueDepth> | undefined;
      const read = () => (pending ??= queueDepth().finally(() => setImmediate(() => (pending = undefined))));
      new Gauge({
        name: 'sealgate_queue_recipients',
        help: 'Recipients waiting in the queue by state: queued, held (by an admin), leased (an attempt under way); the whole cluster, read from the database.',
        labelNames: ['state'],
        registers,
        async collect() {
          const { recipients } = await read();
          for (const state of ['queued', 'held', 'leased'] as const) this.set({ state }, recipients[state]);
        },
      });
      new Gauge({ name: 'sealgate_queue_messages', help: 'Messages with work left in the queue.', registers, async collect() { this.set((await read()).messages); } });
      new Gauge({ name: 'sealgate_queue_bytes', help: 'Bytes of the messages with work left in the queue.', registers, async collect() { this.set((await read()).bytes); } });
    }
  }

  smtpSession(listener: string, event: SmtpSessionEvent): void {
    this.sessions.inc({ listener, event });
    if (event === 'opened') this.openSessions.inc({ listener });
    if (event === 'closed') this.openSessions.dec({ listener });
  }

  smtpAccepted(listener: string, result: 'accepted' | 'refused', seconds: number): void {
    this.accepted.observe({ listener, result }, seconds);
  }

  deliveryAttempt(observations: DeliveryObservation[], seconds: number): void {
    for (const o of observations) {
      this.deliveries.inc({ result: o.outcome, link: o.outcome === 'delivered' ? o.link : 'none' });
      if (o.deferral) this.deferrals.inc({ reason: o.deferral });
    }
    if (observations.length) this.attemptSeconds.observe({ result: observations[0].outcome }, seconds);
  }

  pickup(event: 'created' | 'opened', count = 1): void {
    this.pickups.inc({ event }, count);
  }
}
