import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import { PickupError } from './keys.ts';

/*
 * The attempt gate in front of every open (DESIGN.md §5): since the server keeps no verifier,
 * the only way to test a guess is to ask the server, and the server counts. Failures lock a
 * message; each client address has a budget of attempts; one-time codes are kept as HMACs.
 */

export type PickupEventKind =
  | 'created' | 'notice-sent' | 'opened' | 'failed-attempt' | 'locked' | 'downloaded'
  | 'replied' | 'retracted' | 'expired' | 'deleted' | 'expiry-changed' | 'code-sent' | 'read-notice-sent';

export interface GateOptions {
  /** Failed attempts in a row after which a message locks. */
  maxFailures?: number;
  /** Attempts one client address may make per window (a token bucket that refills evenly). */
  ipAttempts?: number;
  ipWindowMs?: number;
  codeTtlMs?: number;
  codeTries?: number;
  clock?: Clock;
}

export async function recordEvent(store: Store, messageId: string, kind: PickupEventKind, at: number, ip: string | null = null, detail: string | null = null): Promise<void> {
  await store.db.insertInto('pickup_events').values({ message_id: messageId, kind, at, ip, detail }).execute();
}

interface Bucket {
  tokens: number;
  updated: number;
}

const MAX_TRACKED_ADDRESSES = 10_000;

export class PickupGate {
  readonly maxFailures: number;
  private readonly ipAttempts: number;
  private readonly ipWindowMs: number;
  private readonly codeTtlMs: number;
  private readonly codeTries: number;
  private readonly clock: Clock;
  private readonly store: Store;
  private readonly codeKey: Buffer;
  private readonly buckets = new Map<string, Bucket>();

  /** `codeKey` is a server secret (derived from the master key) so a database copy alone cannot test codes. */
  constructor(store: Store, codeKey: Buffer, options: GateOptions = {}) {
    this.store = store;
    this.codeKey = codeKey;
    this.maxFailures = options.maxFailures ?? 10;
    this.ipAttempts = options.ipAttempts ?? 20;
    this.ipWindowMs = options.ipWindowMs ?? 10 * 60_000;
    this.codeTtlMs = options.codeTtlMs ?? 10 * 60_000;
    this.codeTries = options.codeTries ?? 5;
    this.clock = options.clock ?? systemClock;
  }

  private bucket(ip: string): Bucket {
    const now = this.clock.now();
    let bucket = this.buckets.get(ip);
    if (!bucket) {
      if (this.buckets.size >= MAX_TRACKED_ADDRESSES) this.prune(now);
      bucket = { tokens: this.ipAttempts, updated: now };
      this.buckets.set(ip, bucket);
    }
    const refill = ((now - bucket.updated) * this.ipAttempts) / this.ipWindowMs;
    bucket.tokens = Math.min(this.ipAttempts, bucket.tokens + refill);
    bucket.updated = now;
    return bucket;
  }

  /** Drops addresses whose bucket has refilled: forgetting them changes nothing. */
  private prune(now: number): void {
    for (const [ip, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updated) * this.ipAttempts) / this.ipWindowMs >= this.ipAttempts) this.buckets.delete(ip);
    }
  }

  /** Takes one attempt from the address's budget before any key work is spent. */
  takeAttempt(ip: string): void {
    const bucket = this.bucket(ip);
    if (bucket.tokens < 1) {
      const waitMinutes = Math.ceil(((1 - bucket.tokens) * this.ipWindowMs) / this.ipAttempts / 60_000);
      throw new PickupError('rate-limited', `Too many attempts from your address. Wait ${waitMinutes} minute${waitMinutes === 1 ? '' : 's'} and try again.`);
    }
    bucket.tokens -= 1;
  }

  /** A success gives its attempt back, so the budget is one of failures. */
  refund(ip: string): void {
    const bucket = this.bucket(ip);
    bucket.tokens = Math.min(this.ipAttempts, bucket.tokens + 1);
  }

  /** Counts a failed attempt on the message; the one that reaches the limit locks it. Returns true if it locked. */
  async recordFailure(messageId: string, ip: string | null, detail: string | null = null): Promise<boolean> {
    const now = this.clock.now();
    const row = await this.store.db
      .updateTable('pickup_messages')
      .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
      .where('id', '=', messageId)
      .returning('failed_attempts')
      .executeTakeFirst();
    if (!row) return false;
    await recordEvent(this.store, messageId, 'failed-attempt', now, ip, detail);
    if (row.failed_attempts < this.maxFailures) return false;
    const locked = await this.store.db.updateTable('pickup_messages').set({ state: 'locked' }).where('id', '=', messageId).where('state', '=', 'active').executeTakeFirst();
    if (Number(locked.numUpdatedRows) === 0) return false;
    await recordEvent(this.store, messageId, 'locked', now, ip, `${row.failed_attempts} failed attempts`);
    return true;
  }

  async recordSuccess(messageId: string, ip: string): Promise<void> {
    this.refund(ip);
    await this.store.db.updateTable('pickup_messages').set({ failed_attempts: 0 }).where('id', '=', messageId).where('failed_attempts', '>', 0).execute();
  }

  private codeHash(messageId: string, code: string): Buffer {
    return createHmac('sha256', this.codeKey).update(`${messageId}\0${code}`).digest();
  }

  /** A fresh 6-digit code for a message verified by code; replaces any earlier one. */
  async issueCode(messageId: string): Promise<string> {
    const message = await this.store.db.selectFrom('pickup_messages').select(['state', 'verification', 'expires_at']).where('id', '=', messageId).executeTakeFirst();
    if (!message) throw new PickupError('not-found', 'No such message. Check the link in the notice e-mail.');
    if (message.verification !== 'code') throw new Error(`message ${messageId} is not verified by code; no code to send`);
    if (message.state === 'locked') throw new PickupError('locked', 'This message is locked after too many failed attempts. Ask the sender to send it again.');
    if (message.state !== 'active' || message.expires_at <= this.clock.now()) throw new PickupError('withdrawn', 'This message has been withdrawn or has expired.');
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    const values = { code_hash: this.codeHash(messageId, code), expires_at: this.clock.now() + this.codeTtlMs, tries: 0 };
    await this.store.db
      .insertInto('pickup_codes')
      .values({ message_id: messageId, ...values })
      .onConflict((oc) => oc.column('message_id').doUpdateSet(values))
      .execute();
    return code;
  }

  /**
   * Checks a code: each check uses up one of its tries (taken before comparing, so parallel
   * guesses cannot exceed them); a right code is used up. Throws `code-expired` when there is
   * no live code, `wrong-credentials` when it does not match.
   */
  async checkCode(messageId: string, code: string | undefined): Promise<void> {
    const row = await this.store.db
      .updateTable('pickup_codes')
      .set((eb) => ({ tries: eb('tries', '+', 1) }))
      .where('message_id', '=', messageId)
      .where('tries', '<', this.codeTries)
      .where('expires_at', '>', this.clock.now())
      .returning('code_hash')
      .executeTakeFirst();
    if (!row) throw new PickupError('code-expired', 'The code has expired or its tries are used up. Ask for a new code.');
    const given = this.codeHash(messageId, (code ?? '').replace(/\s/g, ''));
    if (!timingSafeEqual(Buffer.from(row.code_hash), given)) throw new PickupError('wrong-credentials', 'The code is not right. Check the latest code e-mail and try again.');
    await this.store.db.deleteFrom('pickup_codes').where('message_id', '=', messageId).execute();
  }

  async dropCode(messageId: string): Promise<void> {
    await this.store.db.deleteFrom('pickup_codes').where('message_id', '=', messageId).execute();
  }
}
