import type { Readable } from 'node:stream';
import type { Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import type { Vault } from '../vault/index.ts';
import { recordEvent } from './gate.ts';
import { PickupError } from './keys.ts';
import type { OpenedMessage, PartInput, PickupStore } from './sealed-store.ts';

/*
 * Secure replies (issue 4): the recipient's answer becomes a pickup message of its own, from
 * the recipient to the sender, sealed like any other. The sender logs in with the gateway
 * password and has no message password, so the reply's password is kept sealed by the vault
 * master key: at rest it is as safe as a queued message, and retraction of the reply still
 * shreds its server share.
 */

export interface ReplyInput {
  /** The reply text (stored as a text part); empty text is allowed when files come. */
  text: string;
  /** Files as they arrive (an upload stream goes straight into the sealed store). */
  attachments?: AsyncIterable<{ filename: string; contentType: string; content: Readable | Buffer }>;
}

export interface ReplySummary {
  replyId: string;
  createdAt: number;
  state: string;
}

export class PickupReplies {
  private readonly pickup: PickupStore;
  private readonly store: Store;
  private readonly vault: Vault;
  private readonly clock: Clock;

  constructor(pickup: PickupStore, store: Store, vault: Vault, clock: Clock) {
    this.pickup = pickup;
    this.store = store;
    this.vault = vault;
    this.clock = clock;
  }

  /** Stores the reply to `opened` (a message the recipient has open) and notes it on the original. */
  async create(opened: OpenedMessage, input: ReplyInput, ip: string | null = null): Promise<string> {
    const facts = await this.pickup.describe(opened.id);
    if (!facts || facts.state === 'retracted' || facts.state === 'expired' || facts.state === 'deleted') {
      throw new PickupError('withdrawn', 'This message has been withdrawn or has expired, so it can no longer be answered.');
    }
    async function* parts(): AsyncIterable<PartInput> {
      yield { kind: 'text', contentType: 'text/plain; charset=utf-8', content: input.text };
      for await (const file of input.attachments ?? []) yield { kind: 'attachment', filename: file.filename, contentType: file.contentType, content: file.content };
    }
    const subject = /^re:/i.test(opened.subject) ? opened.subject : `Re: ${opened.subject}`;
    const { id, messagePassword } = await this.pickup.create({ sender: opened.recipient, recipient: opened.sender, subject, verification: 'link', parts: parts() });
    await this.store.db.insertInto('pickup_replies').values({
      reply_id: id, message_id: opened.id, password_sealed: this.vault.seal(Buffer.from(messagePassword, 'utf8')), created_at: this.clock.now(),
    }).execute();
    await recordEvent(this.store, opened.id, 'replied', this.clock.now(), ip, id);
    return id;
  }

  async list(messageId: string): Promise<ReplySummary[]> {
    const rows = await this.store.db.selectFrom('pickup_replies')
      .innerJoin('pickup_messages', 'pickup_messages.id', 'pickup_replies.reply_id')
      .select(['pickup_replies.reply_id', 'pickup_replies.created_at', 'pickup_messages.state'])
      .where('pickup_replies.message_id', '=', messageId).orderBy('pickup_replies.created_at').execute();
    return rows.map((r) => ({ replyId: r.reply_id, createdAt: r.created_at, state: r.state }));
  }

  /** The message a reply answers, or undefined when `replyId` is not a reply. */
  async originalOf(replyId: string): Promise<string | undefined> {
    const row = await this.store.db.selectFrom('pickup_replies').select('message_id').where('reply_id', '=', replyId).executeTakeFirst();
    return row?.message_id;
  }

  /** Opens a reply for the sender (whom the caller has authenticated), through the gate like any open. */
  async open(replyId: string, ip: string | null = null): Promise<OpenedMessage> {
    const row = await this.store.db.selectFrom('pickup_replies').select('password_sealed').where('reply_id', '=', replyId).executeTakeFirst();
    if (!row) throw new PickupError('not-found', 'No such reply.');
    const password = this.vault.open(Buffer.from(row.password_sealed)).toString('utf8');
    return this.pickup.open(replyId, { password }, { ip: ip ?? undefined });
  }
}
