import { sql, type ExpressionBuilder } from 'kysely';
import type { Clock } from '../kernel/index.ts';
import type { Database, Store } from '../store/index.ts';
import type { ShareFiles } from './shares.ts';

/*
 * The admin console's view of the pickup store (issue 13): every held message with its
 * parties, times, state and how often it was opened. Nothing sealed is read here — no subject,
 * no file names, no share: the admin cannot read a pickup (server share + recipient secret),
 * so the list is what the rows say in the clear.
 */

/** `waiting` and `opened` split the stored `active` by whether the recipient has opened it. */
export const HELD_STATES = ['waiting', 'opened', 'locked', 'retracted', 'expired', 'deleted'] as const;
export type HeldState = (typeof HELD_STATES)[number];

export interface HeldPickup {
  id: string;
  sender: string;
  recipient: string;
  state: HeldState;
  createdAt: number;
  expiresAt: number;
  openedAt: number | null;
  /** Successful opens in the access log (every browser, every visit that proved the credentials). */
  opens: number;
  /** A recipient's secure reply back to the sender (it lives and ends with the message it answers). */
  isReply: boolean;
}

export interface HeldFilter {
  /** Part of the sender's address, any case. */
  sender?: string;
  /** Part of the recipient's address, any case. */
  recipient?: string;
  state?: HeldState;
  offset?: number;
  limit?: number;
}

type Eb = ExpressionBuilder<Database, 'pickup_messages'>;

/** `column` contains `text` (any case); LIKE's own characters in `text` match only themselves. */
function contains(column: 'sender' | 'recipient', text: string) {
  const pattern = `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`;
}

/** The rows in `state`, with expiry on time even where the sweep has not written it yet. */
function inState(eb: Eb, state: HeldState, now: number) {
  switch (state) {
    case 'waiting': return eb.and([eb('state', '=', 'active'), eb('opened_at', 'is', null), eb('expires_at', '>', now)]);
    case 'opened': return eb.and([eb('state', '=', 'active'), eb('opened_at', 'is not', null), eb('expires_at', '>', now)]);
    case 'locked': return eb.and([eb('state', '=', 'locked'), eb('expires_at', '>', now)]);
    case 'expired': return eb.or([eb('state', '=', 'expired'), eb.and([eb('state', 'in', ['active', 'locked']), eb('expires_at', '<=', now)])]);
    case 'retracted': return eb('state', '=', 'retracted');
    case 'deleted': return eb('state', '=', 'deleted');
  }
}

export class HeldPickups {
  private readonly store: Store;
  private readonly shares: ShareFiles;
  private readonly clock: Clock;

  constructor(store: Store, shares: ShareFiles, clock: Clock) {
    this.store = store;
    this.shares = shares;
    this.clock = clock;
  }

  /** The newest messages matching `filter`, and whether more follow the page. */
  async list(filter: HeldFilter = {}): Promise<{ pickups: HeldPickup[]; more: boolean }> {
    const now = this.clock.now();
    const limit = filter.limit ?? 50;
    let query = this.store.db.selectFrom('pickup_messages')
      .select((eb) => [
        'id', 'sender', 'recipient', 'state', 'created_at', 'expires_at', 'opened_at',
        eb.selectFrom('pickup_events').select(eb.fn.countAll<number>().as('n')).whereRef('pickup_events.message_id', '=', 'pickup_messages.id').where('pickup_events.kind', '=', 'opened').as('opens'),
        eb.exists(eb.selectFrom('pickup_replies').select('pickup_replies.reply_id').whereRef('pickup_replies.reply_id', '=', 'pickup_messages.id')).as('is_reply'),
      ]);
    if (filter.sender) query = query.where(contains('sender', filter.sender));
    if (filter.recipient) query = query.where(contains('recipient', filter.recipient));
    const state = filter.state;
    if (state) query = query.where((eb) => inState(eb, state, now));
    const rows = await query.orderBy('created_at', 'desc').orderBy('id').offset(filter.offset ?? 0).limit(limit + 1).execute();
    const pickups: HeldPickup[] = [];
    for (const row of rows.slice(0, limit)) {
      const live = row.state === 'active' || row.state === 'locked';
      const expired = live && row.expires_at <= now;
      // A row restored from a copy taken before its retraction finds its share gone: withdrawn.
      const shareGone = live && !expired && !(await this.shares.has(row.id));
      const shown: HeldState = expired ? 'expired' : shareGone ? 'retracted' : row.state === 'active' ? (row.opened_at === null ? 'waiting' : 'opened') : (row.state as HeldState);
      pickups.push({
        id: row.id, sender: row.sender, recipient: row.recipient, state: shown, createdAt: row.created_at, expiresAt: row.expires_at,
        openedAt: row.opened_at, opens: Number(row.opens ?? 0), isReply: Boolean(row.is_reply),
      });
    }
    return { pickups, more: rows.length > limit };
  }
}
