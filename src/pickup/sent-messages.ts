import { sql, type Selectable } from 'kysely';
import type { Clock } from '../kernel/index.ts';
import type { Database, Store } from '../store/index.ts';
import type { Vault } from '../vault/index.ts';
import type { Verification } from './message-types.ts';
import { openSenderView, type SenderView } from './sender-view.ts';
import type { ShareFiles } from './shares.ts';

/*
 * The sender's side of the pickup store (issue 10 items 7 and 8): their messages grouped by
 * composition, with the subject and attachment names the server may show them while a message
 * lives (sender-view.ts), searched over what it can open for them, and the threads a console
 * "Reply" continues. Replies (pickups from a recipient back to the sender) are not listed on
 * their own: they show under the message they answer.
 */

export interface SentMessage {
  id: string;
  recipient: string;
  /** active | locked | retracted | expired | deleted, brought up to date (expired on time, withdrawn without a share). */
  state: string;
  verification: Verification;
  createdAt: number;
  expiresAt: number;
  openedAt: number | null;
  compositionId: string | null;
  threadId: string | null;
  /** Null once withdrawn (its key is destroyed) or for a message sealed before the sender view. */
  view: SenderView | null;
}

/** One composed message: its recipients' pickups, newest first in the list. */
export interface Composition {
  /** The composition id, or the message's own id when it stands alone. */
  key: string;
  createdAt: number;
  /** From any of its messages still live; null when every one is withdrawn. */
  view: SenderView | null;
  messages: SentMessage[];
}

/** How many of the sender's newest messages the list reads and search decrypts (each costs a share read). */
export const SENT_LIST_LIMIT = 500;

const LIVE = new Set(['active', 'locked']);
const COLUMNS = ['id', 'recipient', 'state', 'verification', 'created_at', 'expires_at', 'opened_at', 'composition_id', 'thread_id', 'sender_view_sealed'] as const;
type SentRow = Pick<Selectable<Database['pickup_messages']>, (typeof COLUMNS)[number]>;

export class SentMessages {
  private readonly store: Store;
  private readonly shares: ShareFiles;
  private readonly vault: Vault;
  private readonly clock: Clock;

  constructor(store: Store, shares: ShareFiles, vault: Vault, clock: Clock) {
    this.store = store;
    this.shares = shares;
    this.vault = vault;
    this.clock = clock;
  }

  private select() {
    return this.store.db.selectFrom('pickup_messages')
      .select(COLUMNS)
      .where('id', 'not in', this.store.db.selectFrom('pickup_replies').select('reply_id'));
  }

  private async toSent(row: SentRow): Promise<SentMessage> {
    let state = row.state;
    let view: SenderView | null = null;
    if (LIVE.has(state)) {
      const sealedShare = await this.shares.get(row.id);
      if (!sealedShare) state = 'retracted'; // restored from a copy taken before retraction
      else if (row.expires_at <= this.clock.now()) state = 'expired';
      else if (row.sender_view_sealed) view = openSenderView(this.vault.open(sealedShare), row.id, Buffer.from(row.sender_view_sealed));
    }
    return {
      id: row.id, recipient: row.recipient, state, verification: row.verification as Verification, createdAt: row.created_at, expiresAt: row.expires_at,
      openedAt: row.opened_at, compositionId: row.composition_id ?? null, threadId: row.thread_id ?? null, view,
    };
  }

  /**
   * The sender's newest messages (at most SENT_LIST_LIMIT) as compositions, newest first. With
   * `query`, only those whose subject, attachment names, recipients or state contain it
   * (case-insensitive); the subjects are sealed, so the search runs here, over what was opened.
   */
  async list(sender: string, options: { query?: string; limit?: number } = {}): Promise<{ compositions: Composition[]; truncated: boolean }> {
    const limit = options.limit ?? SENT_LIST_LIMIT;
    const rows = await this.select().where('sender', '=', sender).orderBy('created_at', 'desc').orderBy('id').limit(limit + 1).execute();
    const truncated = rows.length > limit;
    const groups = new Map<string, Composition>();
    for (const row of rows.slice(0, limit)) {
      const message = await this.toSent(row);
      const key = message.compositionId ?? message.id;
      const group = groups.get(key) ?? { key, createdAt: message.createdAt, view: null, messages: [] };
      group.view ??= message.view;
      group.messages.push(message);
      groups.set(key, group);
    }
    let compositions = [...groups.values()];
    for (const group of compositions) group.messages.sort((a, b) => a.recipient.localeCompare(b.recipient));
    const query = options.query?.trim().toLocaleLowerCase();
    if (query) compositions = compositions.filter((group) => searchText(group).includes(query));
    return { compositions, truncated };
  }

  /** One message of `sender` with what the console may show; undefined when it is not theirs. */
  async message(sender: string, id: string): Promise<SentMessage | undefined> {
    const row = await this.select().where('id', '=', id).where('sender', '=', sender).executeTakeFirst();
    return row ? this.toSent(row) : undefined;
  }

  /** The messages composed together with `id` (itself included), all of `sender`. */
  async composition(sender: string, id: string): Promise<SentMessage[]> {
    const own = await this.store.db.selectFrom('pickup_messages').select(['composition_id']).where('id', '=', id).where('sender', '=', sender).executeTakeFirst();
    if (!own) return [];
    const rows = own.composition_id
      ? await this.select().where('sender', '=', sender).where('composition_id', '=', own.composition_id).orderBy('recipient').execute()
      : await this.select().where('sender', '=', sender).where('id', '=', id).execute();
    return Promise.all(rows.map((row) => this.toSent(row)));
  }

  /**
   * How many entries the conversation of `id` has for its recipient page: the thread's messages
   * between `sender` and `recipient` and the replies to them, counted without opening anything
   * (no share read, no decryption), so a message alone in its thread costs two indexed lookups
   * per page view. Undefined when `id` is not a message of `sender`'s.
   */
  async threadSize(sender: string, id: string, recipient: string): Promise<{ threadId: string; entries: number } | undefined> {
    // One statement of constant text (the SQLite store's statement cache keeps it prepared):
    // built with the query builder, these lookups were a fifth of the page's allocations.
    const { rows } = await sql<{ thread_id: string | null; messages: number | string | bigint; replies: number | string | bigint }>`
      with own as (select coalesce(thread_id, id) as t from pickup_messages where id = ${id} and sender = ${sender}),
      members as (select m.id from pickup_messages m, own where m.sender = ${sender} and m.recipient = ${recipient}
        and (m.id = own.t or m.thread_id = own.t) and m.id not in (select reply_id from pickup_replies))
      select (select t from own) as thread_id, (select count(*) from members) as messages,
        (select count(*) from pickup_replies r inner join pickup_messages p on p.id = r.reply_id where r.message_id in (select id from members)) as replies`.execute(this.store.db);
    const row = rows[0];
    if (!row?.thread_id) return undefined;
    return { threadId: row.thread_id, entries: Number(row.messages) + Number(row.replies) };
  }

  /**
   * The messages of one thread between `sender` and `recipient`, oldest first: the first
   * message (`threadId`) and every one that continues it. Both parties must match, so a thread
   * id from elsewhere shows nothing of anyone else's.
   */
  async thread(threadId: string, sender: string, recipient: string): Promise<SentMessage[]> {
    const rows = await this.select().where('sender', '=', sender).where('recipient', '=', recipient)
      .where((eb) => eb.or([eb('id', '=', threadId), eb('thread_id', '=', threadId)])).orderBy('created_at').orderBy('id').execute();
    return Promise.all(rows.map((row) => this.toSent(row)));
  }
}

function searchText(group: Composition): string {
  const words = [group.view?.subject ?? '', ...(group.view?.attachments ?? [])];
  for (const m of group.messages) words.push(m.recipient, m.state);
  return words.join('\n').toLocaleLowerCase();
}
