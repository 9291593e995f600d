/**
 * The queue's contract (what every caller may rely on):
 *
 * - `enqueue` resolves only when the message is durable (body fsynced or committed, envelope
 *   committed); only then may ingress answer 250. If it throws, nothing was acknowledged.
 * - A recipient is in one state: `queued` (waiting for `next_attempt_at`), `leased` (one
 *   lease holds it), `delivered` or `failed` (final). Final states never change again.
 * - `lease` hands each due recipient to one lease: a random token, an owner (the node id)
 *   and a deadline `lease_until`. A lease whose deadline passed may be taken by another
 *   lease; the old holder has then lost it, whatever its own clock says.
 * - Lease deadlines and due times are read and written on the database's clock (`now()` on
 *   PostgreSQL), never compared across node clocks. On SQLite one process on one host owns
 *   the file, so its clock is the only one.
 * - A holder renews (`renew`) while an attempt runs, checks (`holding`) before it starts a
 *   transaction, and `settle`s with its lease: a settlement changes only recipients still
 *   `leased` under that token, so a node that paused past its deadline cannot overwrite
 *   what another node recorded. A stale settlement is dropped (and logged), never applied.
 * - Delivery is at least once: a node that dies or pauses mid-transaction may have sent
 *   what another node sends again. Nothing acknowledged is ever lost.
 * - When no recipient of a message is `queued` or `leased` any more, its body is deleted.
 * - The delay notice of a message is claimed once (`claimDelayNotice`, conditional update).
 */
import type { Readable } from 'node:stream';
import type { ReceiptSigner } from '../audit/index.ts';
import type { Clock, Envelope, Logger } from '../kernel/index.ts';
import type { BlobStore, KeyStore, Store } from '../store/index.ts';
import { openDatabaseKeyStore } from '../store/index.ts';
import type { Vault } from '../vault/index.ts';
import * as admin from './admin.ts';
import { openBody, shred } from './bodies.ts';
import type { QueueContext } from './context.ts';
import { commitIntakeRows, Intake, type IntakeCommit, type IntakeRows } from './enqueue.ts';
import * as hold from './hold.ts';
import * as housekeeping from './housekeeping.ts';
import * as inspect from './inspect.ts';
import * as leases from './leases.ts';
import * as receipts from './receipts.ts';
import * as retention from './retention.ts';
import { claimDelayNotice, Settler } from './settle.ts';
import type { LeasedGroup, LeaseRef, MessageDetail, MessageSummary, Settlement } from './types.ts';

export type { QueueSelector, QueueTotals } from './hold.ts';
export type { LeasedGroup, LeaseRef, MessageDetail, MessageSummary, QueuedRecipient, Settlement, StoredEnvelope } from './types.ts';

/** The queue's one face; each part lives in a file of its own (enqueue, leases, settle, …). */
export class Queue {
  private readonly ctx: QueueContext;
  private readonly intake: Intake;
  private readonly settler: Settler;

  /**
   * `keys`: where each body's own data key lives (default: the `message_keys` table).
   * `receiptSigner`: signs final outcomes' receipts as they are settled.
   * `intakeCommit`: where an enqueued message's rows commit (default: this store; see `commitIntake`).
   */
  constructor(deps: { store: Store; blobs: BlobStore; vault: Vault; clock: Clock; logger: Logger; keys?: KeyStore; receiptSigner?: ReceiptSigner; intakeCommit?: IntakeCommit }) {
    this.ctx = { store: deps.store, blobs: deps.blobs, vault: deps.vault, keys: deps.keys ?? openDatabaseKeyStore(deps.store), clock: deps.clock, logger: deps.logger, receiptSigner: deps.receiptSigner };
    this.intake = new Intake(this.ctx, deps.intakeCommit);
    this.settler = new Settler(this.ctx);
  }

  /**
   * Durable when it resolves: the encrypted body is fsynced and the envelope committed.
   * Only then may ingress answer 250. A body stream that errors aborts the whole enqueue.
   */
  enqueue(envelope: Envelope, body: Readable): Promise<{ id: string }> {
    return this.intake.enqueue(envelope, body);
  }

  /**
   * Commits rows another process's intake prepared (its body and key stored already): the
   * primary's half of a listener worker's enqueue on SQLite. Durable when it resolves.
   */
  commitIntake(rows: IntakeRows): Promise<void> {
    return commitIntakeRows(this.ctx, rows);
  }

  /** Decrypted body stream; errors with VaultIntegrityError if the stored object is damaged. */
  openBody(messageId: string, storedBody?: Buffer | null): Promise<Readable> {
    return openBody(this.ctx, messageId, storedBody);
  }

  /** See leases.ts `lease`. */
  lease(owner: string, limit: number, leaseMs: number, options: leases.LeaseOptions = {}): Promise<LeasedGroup[]> {
    return leases.lease(this.ctx, owner, limit, leaseMs, options);
  }

  /** See leases.ts `holding`. */
  holding(lease: LeaseRef, recipientIds: number[], options: { expired?: 'ok' } = {}): Promise<Set<number>> {
    return leases.holding(this.ctx, lease, recipientIds, options);
  }

  /** Heartbeat: the recipient ids still held (see leases.ts `renew`). */
  renew(tokens: string[], leaseMs: number): Promise<Set<number>> {
    return leases.renew(this.ctx, tokens, leaseMs);
  }

  /** Gives leased recipients back untouched (work that cannot start now). */
  release(lease: LeaseRef, recipientIds: number[]): Promise<void> {
    return leases.giveBack(this.ctx, lease, recipientIds);
  }

  /** After a restart, this node's own leases are void; after a restore (owner null), all are. */
  releaseLeases(owner: string | null): Promise<number> {
    return leases.releaseLeases(this.ctx, owner);
  }

  /**
   * Records the outcome of an attempt under its lease; returns true when the message has no
   * work left, in which case its body is already gone (inline) or deleted right after the
   * commit (file). Settlements of recipients the lease no longer holds are dropped.
   */
  async settle(messageId: string, lease: LeaseRef, settlements: Settlement[]): Promise<boolean> {
    return (await this.settleReport(messageId, lease, settlements)).done;
  }

  /** `settle`, also naming the recipients whose settlement was dropped (the lease was lost): the audit records only the rest. */
  async settleReport(messageId: string, lease: LeaseRef, settlements: Settlement[]): Promise<{ done: boolean; stale: number[] }> {
    const { done, file, stale } = await this.settler.settle(messageId, lease, settlements);
    if (file) await this.reap(messageId);
    else if (done) await shred(this.ctx, messageId);
    return { done, stale };
  }

  /** Every receipt of one message with its signature, as stored (`sealgate receipt`). */
  receipts(messageId: string): Promise<receipts.StoredReceipt[]> {
    return receipts.receiptsOf(this.ctx, messageId);
  }

  /** The signed receipt of a pickup opened in the portal. */
  recordPickupOpened(opened: receipts.PickupOpenedFacts): Promise<void> {
    return receipts.recordPickupOpened(this.ctx, opened);
  }

  /** Final outcomes by message, sender, recipient and time, newest first (`sealgate trace`). */
  trace(filter: receipts.TraceFilter): Promise<receipts.StoredReceipt[]> {
    return receipts.trace(this.ctx, filter);
  }

  /** The message's one delay notice: true for exactly one caller. */
  claimDelayNotice(messageId: string): Promise<boolean> {
    return claimDelayNotice(this.ctx, messageId);
  }

  /** Deletes the body of a finished message: nothing of it stays at rest longer than needed. */
  reap(messageId: string): Promise<void> {
    return housekeeping.reap(this.ctx, messageId);
  }

  /** Half-written body files of a crashed process (never acknowledged). */
  sweepTemp(olderThanMs?: number): Promise<number> {
    return this.ctx.blobs.sweepTemp(olderThanMs);
  }

  /** Bodies of messages finished before a crash, whose reap never ran. */
  reapFinished(): Promise<number> {
    return housekeeping.reapFinished(this.ctx);
  }

  /** Keys a crash left behind (see housekeeping.ts). */
  sweepStrayKeys(): Promise<number> {
    return housekeeping.sweepStrayKeys(this.ctx);
  }

  /** Retention: finished messages' rows older than `before` (ms). */
  purgeFinished(before: number, onPurged?: (ids: string[]) => Promise<unknown>): Promise<number> {
    return retention.purgeFinished(this.ctx, before, onPurged);
  }

  /** Retention: delivery receipts older than `before` (ms). */
  purgeReceipts(before: number): Promise<number> {
    return retention.purgeReceipts(this.ctx, before);
  }

  list(options: { state?: string; limit?: number } = {}): Promise<MessageSummary[]> {
    return inspect.list(this.ctx, options);
  }

  show(messageId: string): Promise<MessageDetail | null> {
    return inspect.show(this.ctx, messageId);
  }

  /** Opens every pending body to the end; returns the ids whose stored body is unreadable. */
  verify(): Promise<string[]> {
    return inspect.verify(this.ctx);
  }

  /** Makes queued recipients due now (admin "retry"). */
  retryNow(messageId: string): Promise<number> {
    return admin.retryNow(this.ctx, messageId);
  }

  remove(messageId: string): Promise<boolean> {
    return admin.remove(this.ctx, messageId);
  }

  /** Holds the selected pending recipients (postsuper -h): not leased until released. */
  hold(selector: hold.QueueSelector): Promise<{ recipients: number; inFlight: number }> {
    return hold.hold(this.ctx, selector);
  }

  /** Releases held recipients (postsuper -H), due at once. */
  unhold(selector: hold.QueueSelector): Promise<number> {
    return hold.unhold(this.ctx, selector);
  }

  /** Every deferred recipient due now (postqueue -f); held ones stay held. */
  flush(): Promise<number> {
    return hold.flush(this.ctx);
  }

  /** Deletes the selected pending recipients no attempt holds (postsuper -d), without a bounce. */
  deletePending(selector: hold.QueueSelector): Promise<{ recipients: number; messages: number; inFlight: number }> {
    return hold.deletePending(this.ctx, selector);
  }

  /** Messages, bytes and pending recipients in the queue. */
  totals(): Promise<hold.QueueTotals> {
    return hold.totals(this.ctx);
  }
}
