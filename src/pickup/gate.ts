import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { LoginBudget, networkOf, waitText, type BudgetPolicy, type Reservation } from '../accounts/index.ts';
import { systemClock, type Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import { PickupError, normalizePassword } from './keys.ts';

/*
 * The attempt gate in front of every open (docs/architecture.md §5): since the server keeps no verifier
 * of a passphrase or answer, the only way to test a guess is to ask the server, and the server
 * counts (OWASP ASVS L2 V2.2.1). Two budgets:
 * - each client network (IPv4 address, IPv6 /64) has a budget of failed attempts, in the
 *   shared `login_budgets` table (every node), spent before any key work; a wrong message
 *   password, an unknown id and a wrong link cost only this;
 * - the message's own check (passphrase, answer or one-time code, reached only with the right
 *   message password) locks the message after `maxFailures`. Each such attempt is reserved by
 *   one conditional UPDATE (`failed_attempts < max`) before Argon2 or the code comparison, so
 *   parallel guesses cannot all pass a count that was read before any of them failed. The
 *   reservation is the failure; a success gives back only its own reservation and never
 *   resets the count, because a reset mid-burst would free the slots of guesses still in
 *   flight. The sender can unlock a message from the console (audited).
 * One-time codes are HMACs under a server key; several may be live at once (a new code does
 * not cancel an unexpired one), and how many are mailed is limited per message and per
 * recipient and hour.
 */

export type PickupEventKind =
  | 'created' | 'notice-sent' | 'opened' | 'failed-attempt' | 'locked' | 'unlocked' | 'downloaded'
  | 'replied' | 'retracted' | 'expired' | 'deleted' | 'expiry-changed' | 'code-sent' | 'read-notice-sent'
  // The notice's final state (delivery worker): detail says the link, or the reply it failed with.
  | 'notice-delivered' | 'notice-failed'
  // A browser the message is not bound to proved the message password (browser-binding.ts), and the sender was told.
  | 'new-browser' | 'new-browser-notice-sent';

export interface GateOptions {
  /** Failed checks of the message's own secret after which it locks. */
  maxFailures?: number;
  /** Failed attempts one client network may make per window. */
  ipAttempts?: number;
  ipWindowMs?: number;
  codeTtlMs?: number;
  /** One-time code mails per message and hour. */
  codesPerMessagePerHour?: number;
  /** One-time code mails per recipient address and hour, over all their messages. */
  codesPerRecipientPerHour?: number;
  clock?: Clock;
}

export async function recordEvent(store: Store, messageId: string, kind: PickupEventKind, at: number, ip: string | null = null, detail: string | null = null): Promise<void> {
  await store.db.insertInto('pickup_events').values({ message_id: messageId, kind, at, ip, detail }).execute();
}

const HOUR_MS = 3_600_000;
export const LOCKED_TEXT = 'This message is locked after too many failed attempts. The sender can unlock it: ask them to, then open the link again.';
const plainPolicy = (maxFailures: number, windowMs: number): BudgetPolicy => ({ maxFailures, windowMs, freeAttempts: maxFailures, baseDelayMs: 0, maxDelayMs: 0 });

/** The check value of a message password: HMAC under the server share, so a database copy alone tests nothing. */
export function passwordCheck(serverShare: Buffer, messageId: string, password: string): Buffer {
  return createHmac('sha256', serverShare).update(`sealgate pickup password check v1\0${messageId}\0${normalizePassword(password)}`).digest();
}

export class PickupGate {
  readonly maxFailures: number;
  private readonly ipPolicy: BudgetPolicy;
  private readonly codePolicy: BudgetPolicy;
  private readonly recipientCodePolicy: BudgetPolicy;
  private readonly codeTtlMs: number;
  private readonly clock: Clock;
  private readonly store: Store;
  private readonly codeKey: Buffer;
  private readonly budget: LoginBudget;

  /** `codeKey` is a server secret (derived from the master key) so a database copy alone cannot test codes. */
  constructor(store: Store, codeKey: Buffer, options: GateOptions = {}) {
    this.store = store;
    this.codeKey = codeKey;
    this.maxFailures = options.maxFailures ?? 10;
    this.ipPolicy = plainPolicy(options.ipAttempts ?? 20, options.ipWindowMs ?? 10 * 60_000);
    this.codePolicy = plainPolicy(options.codesPerMessagePerHour ?? 3, HOUR_MS);
    this.recipientCodePolicy = plainPolicy(options.codesPerRecipientPerHour ?? 10, HOUR_MS);
    this.codeTtlMs = options.codeTtlMs ?? 10 * 60_000;
    this.clock = options.clock ?? systemClock;
    this.budget = new LoginBudget(store, this.clock);
  }

  /** Takes one attempt from the client network's budget before any key work is spent. */
  async takeAttempt(ip: string): Promise<Reservation> {
    const reserved = await this.budget.reserve([{ key: `pickup-ip:${networkOf(ip)}`, policy: this.ipPolicy }]);
    if ('reason' in reserved) throw new PickupError('rate-limited', `Too many attempts from your address. Wait ${waitText(reserved.retryAfterMs)} and try again.`);
    return reserved;
  }

  /** A success gives its attempt back, so the budget is one of failures. */
  refund(reservation: Reservation): Promise<void> {
    return this.budget.refund(reservation);
  }

  /**
   * Reserves one check of the message's own secret: counted as a failure until `returnAttempt`.
   * Throws `locked` when the message has no attempt left (or is no longer active).
   */
  async reserveAttempt(messageId: string): Promise<void> {
    const row = await this.store.db.updateTable('pickup_messages')
      .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
      .where('id', '=', messageId).where('state', '=', 'active').where('failed_attempts', '<', this.maxFailures)
      .returning('failed_attempts').executeTakeFirst();
    if (!row) throw new PickupError('locked', LOCKED_TEXT);
  }

  /** The reserved check succeeded, or never compared a guess (no live code): its reservation goes back. */
  async returnAttempt(messageId: string): Promise<void> {
    await this.store.db.updateTable('pickup_messages').set((eb) => ({ failed_attempts: eb('failed_attempts', '-', 1) }))
      .where('id', '=', messageId).where('failed_attempts', '>', 0).execute();
  }

  /** A reserved check failed: it stays counted; the one that used the last attempt locks. Returns the attempts left. */
  async checkFailed(messageId: string, ip: string | null): Promise<number> {
    const now = this.clock.now();
    await recordEvent(this.store, messageId, 'failed-attempt', now, ip);
    const row = await this.store.db.selectFrom('pickup_messages').select('failed_attempts').where('id', '=', messageId).executeTakeFirst();
    const used = row?.failed_attempts ?? this.maxFailures;
    if (used < this.maxFailures) return this.maxFailures - used;
    const locked = await this.store.db.updateTable('pickup_messages').set({ state: 'locked' }).where('id', '=', messageId).where('state', '=', 'active').executeTakeFirst();
    if (Number(locked.numUpdatedRows) > 0) await recordEvent(this.store, messageId, 'locked', now, ip, `${used} failed attempts`);
    return 0;
  }

  /** A guess that never reached the message's own check (wrong message password): audit only. */
  async wrongLink(messageId: string, ip: string | null): Promise<void> {
    await recordEvent(this.store, messageId, 'failed-attempt', this.clock.now(), ip, 'wrong message password');
  }

  /** How many checks of its own secret the message has left. */
  async attemptsLeft(messageId: string): Promise<number> {
    const row = await this.store.db.selectFrom('pickup_messages').select('failed_attempts').where('id', '=', messageId).executeTakeFirst();
    return Math.max(0, this.maxFailures - (row?.failed_attempts ?? this.maxFailures));
  }

  /** The sender lifts a lock (or clears the count): audited with who and from where. */
  async unlock(messageId: string, by: string, ip: string | null): Promise<boolean> {
    const result = await this.store.db.updateTable('pickup_messages').set({ state: 'active', failed_attempts: 0 })
      .where('id', '=', messageId).where('state', 'in', ['active', 'locked']).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await recordEvent(this.store, messageId, 'unlocked', this.clock.now(), ip, `by ${by}`);
    return true;
  }

  private codeHash(messageId: string, code: string): Buffer {
    return createHmac('sha256', this.codeKey).update(`${messageId}\0${code}`).digest();
  }

  /**
   * A fresh 6-digit code for a message verified by code, or for a browser the message is not
   * bound to (`new-browser`, any verification). Costs an attempt of the client's network and one
   * of the message's and the recipient's hourly code budgets, so the link alone cannot flood an
   * inbox; earlier codes stay valid until they expire.
   */
  async issueCode(messageId: string, ip = 'unknown', purpose: 'verification' | 'new-browser' = 'verification'): Promise<string> {
    const message = await this.store.db.selectFrom('pickup_messages').select(['state', 'verification', 'expires_at', 'recipient', 'bound_at']).where('id', '=', messageId).executeTakeFirst();
    if (!message) throw new PickupError('not-found', 'No such message. Check the link in the notice e-mail.');
    if (purpose === 'verification' && message.verification !== 'code') throw new Error(`message ${messageId} is not verified by code; no code to send`);
    if (purpose === 'new-browser' && message.bound_at == null) throw new Error(`message ${messageId} is bound to no browser yet; no code to send`);
    if (message.state === 'locked') throw new PickupError('locked', LOCKED_TEXT);
    const now = this.clock.now();
    if (message.state !== 'active' || message.expires_at <= now) throw new PickupError('withdrawn', 'This message has been withdrawn or has expired.');
    await this.takeAttempt(ip);
    const reserved = await this.budget.reserve([
      { key: `code-message:${messageId}`, policy: this.codePolicy },
      { key: `code-recipient:${message.recipient.toLowerCase()}`, policy: this.recipientCodePolicy },
    ]);
    if ('reason' in reserved) {
      throw new PickupError('rate-limited', `Enough codes were e-mailed for now. Use the latest code you received, or ask for a new one in ${waitText(reserved.retryAfterMs)}.`, 'code');
    }
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    await this.store.db.deleteFrom('pickup_code_issues').where('message_id', '=', messageId).where('expires_at', '<=', now).execute();
    await this.store.db.insertInto('pickup_code_issues').values({ message_id: messageId, code_hash: this.codeHash(messageId, code), issued_at: now, expires_at: now + this.codeTtlMs }).execute();
    return code;
  }

  /** When the newest live code was issued; null when none is live. */
  async latestCodeAt(messageId: string): Promise<number | null> {
    const rows = await this.store.db.selectFrom('pickup_code_issues').select('issued_at')
      .where('message_id', '=', messageId).where('expires_at', '>', this.clock.now()).orderBy('issued_at', 'desc').limit(1).execute();
    return rows.length ? Number(rows[0].issued_at) : null;
  }

  /**
   * Checks a code against every live code of the message (at most the hourly code budget, so a
   * guess's chance stays a few in a million). The caller has reserved the attempt, and uses the
   * codes up (`dropCode`) once the whole open succeeded, so a right code with a mistyped
   * passphrase can be sent again. Throws `code-expired` when no code is live (nothing was
   * compared), `wrong-credentials` when none matches.
   */
  async checkCode(messageId: string, code: string | undefined): Promise<void> {
    const live = await this.store.db.selectFrom('pickup_code_issues').select('code_hash')
      .where('message_id', '=', messageId).where('expires_at', '>', this.clock.now()).execute();
    if (live.length === 0) throw new PickupError('code-expired', `The code has expired (a code is valid for ${Math.round(this.codeTtlMs / 60_000)} minutes). Ask for a new code.`, 'code');
    const given = this.codeHash(messageId, (code ?? '').replace(/\s/g, ''));
    let match = false;
    for (const row of live) match = timingSafeEqual(Buffer.from(row.code_hash), given) || match;
    if (!match) throw new PickupError('wrong-credentials', 'The code is not right. Check the latest code e-mail and try again.', 'code');
  }

  async dropCode(messageId: string): Promise<void> {
    await this.store.db.deleteFrom('pickup_code_issues').where('message_id', '=', messageId).execute();
  }

  /**
   * Records that a browser the message is not bound to proved the message password. Returns
   * true when the sender should be told now: at most one mail per message and hour, however
   * often other browsers try (the access log has each).
   */
  async newBrowser(messageId: string, ip: string | null): Promise<boolean> {
    const now = this.clock.now();
    await recordEvent(this.store, messageId, 'new-browser', now, ip);
    const told = await this.store.db.selectFrom('pickup_events').select('id')
      .where('message_id', '=', messageId).where('kind', '=', 'new-browser-notice-sent').where('at', '>', now - HOUR_MS).executeTakeFirst();
    return !told;
  }
}
