/**
 * Carries out what `decideRoute` returns for each recipient of a domain group, then asks it
 * again with what the attempt found (docs/flow.md "The routing decision"). No decision is taken
 * here: deliver as is, end to end (protect, then deliver), hold for pickup, bounce. Every
 * receipt says the route its recipient got and why (issue 11).
 */
import type { Clock, DeliveryReceipt, LinkRequirement, ReceiptRoute } from '../kernel/index.ts';
import type { DeliverRoute, RouteDecision, RouteFacts } from '../policy/index.ts';
import { decideRoute } from '../policy/index.ts';
import { protectedJob, ProtectError, recipientKeys, type EndToEndDeps } from './e2e-route.ts';
import type { DeliverFn, DomainJob, PickupFn, RecipientResult } from './worker.ts';

type Recipient = DomainJob['recipients'][number];
type PickupRoute = Extract<RouteDecision, { kind: 'pickup' }>;
/** What policy is told of one recipient; `attempt`: the result of the attempt just made. */
export type FactsFor = (recipient: string, attempt?: RecipientResult) => RouteFacts;

/** Recipients that go out in one attempt: the same body (plain or protected by one method) and level. */
interface Batch {
  route: ReceiptRoute;
  method?: 'openpgp' | 'smime';
  level: LinkRequirement;
  recipients: Recipient[];
  reasons: Map<number, string>;
}

export interface ExecutorDeps {
  deliver: DeliverFn;
  toPickup?: PickupFn;
  endToEnd?: EndToEndDeps;
  clock: Clock;
}

export function emptyReceipt(clock: Clock, recipient: string, reply: string, outcome: 'failed' | 'deferred'): DeliveryReceipt {
  return { at: clock.now(), recipient, mxHost: null, ip: null, port: null, tlsVersion: null, cipher: null, certSubject: null, certVerified: false, reply, outcome };
}

const withRoute = (result: RecipientResult, route: ReceiptRoute, routeReason: string): RecipientResult => ({ ...result, receipt: { ...result.receipt, route, routeReason } });

export class RouteExecutor {
  private readonly deps: ExecutorDeps;

  constructor(deps: ExecutorDeps) {
    this.deps = deps;
  }

  /**
   * The facts per recipient: the key store's answer is read once per recipient and group, so
   * the decision after the attempt sees what the one before it saw.
   */
  async factsFor(job: DomainJob, base: Omit<RouteFacts, 'recipient' | 'keys' | 'attempt'>): Promise<FactsFor> {
    const e2e = this.deps.endToEnd;
    const keys = new Map<string, RouteFacts['keys']>();
    const message = e2e ? { ...base.message, encryptWhenKeyKnown: e2e.rules.encryptsWhenKeyKnown(base.message) } : base.message;
    const encryptRule = e2e?.rules.ruleFor(job.domain);
    // Keys are read only where policy can use them (a submitted message with a request, a rule or
    // the sender's setting): plain mail costs no key-store queries.
    const mayEncrypt = message.origin !== 'inbound' && !!message.authUser && (message.encrypt !== undefined || encryptRule !== undefined || message.encryptWhenKeyKnown === true);
    if (e2e && mayEncrypt) for (const r of job.recipients) keys.set(r.address, await recipientKeys(e2e, r.address));
    return (recipient, attempt) => ({ ...base, message, encryptRule, recipient, keys: keys.get(recipient) ?? null, attempt });
  }

  async execute(job: DomainJob, facts: FactsFor): Promise<RecipientResult[]> {
    const results: RecipientResult[] = [];
    const batches = new Map<string, Batch>();
    const toPickup: { recipient: Recipient; route: PickupRoute; because?: string }[] = [];
    const add = (recipient: Recipient, route: ReceiptRoute, deliver: DeliverRoute, reason: string, method?: Batch['method']) => {
      // End to end: one copy per recipient. An encrypted message names every key it is encrypted
      // to (OpenPGP key IDs, S/MIME RecipientInfos), so a shared copy would tell each recipient
      // who else got it, Bcc recipients included.
      const key = method ? `${route}/${deliver.level}/${recipient.id}` : `${route}/${deliver.level}`;
      const batch: Batch = batches.get(key) ?? { route, method, level: deliver.level, recipients: [], reasons: new Map() };
      batch.recipients.push(recipient);
      batch.reasons.set(recipient.id, reason);
      batches.set(key, batch);
    };
    for (const recipient of job.recipients) {
      const route = decideRoute(facts(recipient.address));
      if (route.kind === 'deliver') add(recipient, 'link', route, route.reason);
      else if (route.kind === 'end-to-end') add(recipient, `end-to-end:${route.method}`, route.then, route.reason, route.method);
      else if (route.kind === 'pickup') toPickup.push({ recipient, route });
      else if (route.kind === 'bounce') results.push(withRoute(this.unsent(recipient, 'failed', route.code, route.enhanced), 'bounce', route.reason));
      else results.push(this.unsent(recipient, 'deferred', `451 4.3.0 Route '${route.kind}' before any attempt: ${route.reason}`, '4.3.0'));
    }
    if (toPickup.length) results.push(...(await this.hold(job, toPickup)));
    // Held after an attempt: one pickup for them, apart from any the sender asked for above.
    const moved: typeof toPickup = [];
    for (const batch of batches.values()) {
      const { attempted, moving } = await this.attempt(job, batch, facts);
      results.push(...attempted);
      moved.push(...moving);
    }
    if (moved.length) results.push(...(await this.hold(job, moved)));
    return results;
  }

  /** One attempt for a batch; the recipients policy then moves to pickup come back as `moving`. */
  private async attempt(job: DomainJob, batch: Batch, facts: FactsFor): Promise<{ attempted: RecipientResult[]; moving: { recipient: Recipient; route: PickupRoute; because: string }[] }> {
    // The level policy asks for (the sender's, raised by a fallback); the destination's demands are added per host.
    let deliverJob: DomainJob = { ...job, recipients: batch.recipients, requiredLevel: batch.level === 'none' ? job.requiredLevel : batch.level };
    let signed: boolean | undefined;
    if (batch.method) {
      try {
        if (!this.deps.endToEnd) throw new ProtectError('this gateway has no key store');
        const { signed: withSignature, ...protectedCopy } = await protectedJob(this.deps.endToEnd, deliverJob, batch.method, batch.recipients);
        deliverJob = protectedCopy;
        signed = withSignature;
      } catch (error) {
        if (!(error instanceof ProtectError)) throw error;
        // Never plaintext where policy chose end to end: deferred with the reason, tried again later.
        const reply = `451 4.7.0 End-to-end encryption could not be done: ${error.message}`;
        return { attempted: batch.recipients.map((r) => withRoute(this.unsent(r, 'deferred', reply, '4.7.0'), batch.route, batch.reasons.get(r.id)!)), moving: [] };
      }
    }
    const attempted: RecipientResult[] = [];
    const moving: { recipient: Recipient; route: PickupRoute; because: string }[] = [];
    for (const result of (await this.deps.deliver(deliverJob)).results) {
      const recipient = batch.recipients.find((r) => r.id === result.recipientId);
      const reason = batch.reasons.get(result.recipientId) ?? '';
      const route = recipient ? decideRoute(facts(recipient.address, result)) : undefined;
      if (recipient && route?.kind === 'pickup') moving.push({ recipient, route, because: reason });
      else {
        const routed = withRoute(result, batch.route, reason);
        attempted.push(signed === undefined ? routed : { ...routed, receipt: { ...routed.receipt, signed } });
      }
    }
    return { attempted, moving };
  }

  /** Holds recipients for pickup; one pickup per group, with the first recipient's reason (all share it). */
  private async hold(job: DomainJob, moving: { recipient: Recipient; route: PickupRoute; because?: string }[]): Promise<RecipientResult[]> {
    if (!this.deps.toPickup) throw new Error('pickup route without a pickup service');
    const held = await this.deps.toPickup(job, moving.map((m) => m.recipient), moving[0].route.reason, moving[0].route.bestLink);
    return held.map((result) => {
      const m = moving.find((x) => x.recipient.id === result.recipientId);
      const reason = m ? (m.because ? `${m.because}; then held for pickup: ${m.route.reason}` : m.route.reason) : moving[0].route.reason;
      return withRoute(result, 'pickup', reason);
    });
  }

  /** A result for a recipient no attempt was made for (refused, or a route not carried out). */
  unsent(recipient: Recipient, outcome: 'failed' | 'deferred', reply: string, enhanced: string): RecipientResult {
    return { recipientId: recipient.id, outcome, reply, enhanced, receipt: emptyReceipt(this.deps.clock, recipient.address, reply, outcome) };
  }
}
