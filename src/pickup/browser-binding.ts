import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';

/*
 * A recipient copy is bound to the first browser that opens it (issue 10 item 3): a forwarded
 * or intercepted notice then no longer opens the message on its own. The browser keeps a random
 * 256-bit token in a cookie scoped to the message's path; the database keeps only
 * SHA-256(message id, token), so a database copy yields no cookie, and a token is good for its
 * own message only (the id is inside the hash). Any other browser needs a fresh one-time code
 * from the recipient's mailbox (sealed-store.ts `open`), and is bound too once it has one.
 */

/** What a request's binding cookie says about this browser and this message. */
export type BindingState =
  /** No browser is bound yet: this open binds the first. */
  | 'unbound'
  /** The cookie is one of this message's bindings. */
  | 'this-browser'
  /** Bound to other browsers; this one has no or a wrong token. */
  | 'other-browser';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const hashOf = (messageId: string, token: string): string =>
  createHash('sha256').update(`sealgate browser binding v1\0${messageId}\0${token}`).digest('base64url');

export class BrowserBindings {
  private readonly store: Store;
  private readonly clock: Clock;

  constructor(store: Store, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  /** `boundAt` is the message row's `bound_at` (read with the row the open already holds). */
  async state(messageId: string, boundAt: number | null | undefined, token: string | undefined): Promise<BindingState> {
    if (boundAt === null || boundAt === undefined) return 'unbound';
    if (!token || !TOKEN.test(token)) return 'other-browser';
    const row = await this.store.db.selectFrom('pickup_bindings').select('message_id')
      .where('token_hash', '=', hashOf(messageId, token)).where('message_id', '=', messageId).executeTakeFirst();
    return row ? 'this-browser' : 'other-browser';
  }

  /**
   * Binds the first browser: claims `bound_at` by one conditional update, so of two first
   * opens at once only one binds without a code. Returns the cookie token, or null when another
   * browser was bound first.
   */
  async bindFirst(messageId: string): Promise<string | null> {
    const now = this.clock.now();
    const claimed = await this.store.db.updateTable('pickup_messages').set({ bound_at: now })
      .where('id', '=', messageId).where('bound_at', 'is', null).executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) return null;
    return this.add(messageId, now);
  }

  /** Binds one more browser (one that proved a fresh code). */
  bindAnother(messageId: string): Promise<string> {
    return this.add(messageId, this.clock.now());
  }

  async touch(messageId: string, token: string): Promise<void> {
    await this.store.db.updateTable('pickup_bindings').set({ last_used_at: this.clock.now() })
      .where('token_hash', '=', hashOf(messageId, token)).execute();
  }

  /** A withdrawn or deleted message keeps no bindings. */
  async drop(messageId: string): Promise<void> {
    await this.store.db.deleteFrom('pickup_bindings').where('message_id', '=', messageId).execute();
  }

  private async add(messageId: string, now: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.store.db.insertInto('pickup_bindings').values({ token_hash: hashOf(messageId, token), message_id: messageId, created_at: now, last_used_at: now }).execute();
    return token;
  }
}
