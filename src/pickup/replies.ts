import type { Readable } from 'node:stream';
import type { Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import type { Vault } from '../vault/index.ts';
import { recordEvent } from './gate.ts';
import { PickupError, openValue, sealValue } from './keys.ts';
import type { OpenedMessage, PartInput } from './message-types.ts';
import type { PickupStore } from './sealed-store.ts';

/*
 * Secure replies (issue 4): the recipient's answer becomes a pickup message of its own, from
 * the recipient to the sender, sealed like any other. The sender logs in with the gateway
 * password and has no message password, so the server keeps the reply's password, sealed
 * under a key derived from the answered message's server share (keys.ts replyPasswordKey):
 * retraction, expiry or deletion of that message destroys the share and with it every reply
 * (issue 9 item 8; a seal under the master key alone opened replies from any copy).
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
    const replyKey = await this.pickup.replyKey(opened.id);
    if (!replyKey) throw new PickupError('withdrawn', 'This message has been withdrawn or has expired, so it can no longer be answered.');
    const subject = /^re:/i.test(opened.subject) ? opened.subject : `Re: ${opened.subject}`;
    const { id, messagePassword } = await this.pickup.create({ sender: opened.recipient, recipient: opened.sender, subject, verification: 'link', parts: parts() });
    await this.store.db.insertInto('pickup_replies').values({
      reply_id: id, message_id: opened.id, password_sealed: sealValue(replyKey, Buffer.from(messagePassword, 'utf8'), `${id}/reply-password`), created_at: this.clock.now(),
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
    const row = await this.store.db.selectFrom('pickup_replies').select(['password_sealed', 'message_id']).where('reply_id', '=', replyId).executeTakeFirst();
    if (!row) throw new PickupError('not-found', 'No such reply.');
    const replyKey = await this.pickup.replyKey(row.message_id);
    const sealed = Buffer.from(row.password_sealed);
    let password: string;
    try {
      if (!replyKey) throw new Error('share gone');
      password = openValue(replyKey, sealed, `${replyId}/reply-password`).toString('utf8');
    } catch {
      // Replies stored before the share-derived key were sealed under the master key; a
      // withdrawn original withdrew them too, which pickup.open reports.
      try {
        password = this.vault.open(sealed).toString('utf8');
      } catch {
        throw new PickupError('withdrawn', 'The message this reply answers was retracted or has expired, so its replies are gone too.');
      }
    }
    return this.pickup.open(replyId, { password }, { ip: ip ?? undefined });
  }
}
