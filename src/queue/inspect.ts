/** What an admin reads: the queue's messages, one message in full, bodies that no longer open. */
import { openBody } from './bodies.ts';
import type { QueueContext } from './context.ts';
import { receiptOfRow } from './receipts.ts';
import type { MessageDetail, MessageSummary, StoredEnvelope } from './types.ts';

export async function list(ctx: QueueContext, options: { state?: string; limit?: number } = {}): Promise<MessageSummary[]> {
  let query = ctx.store.db.selectFrom('messages').selectAll().orderBy('created_at', 'desc').limit(options.limit ?? 100);
  if (options.state === 'active') query = query.where('done_at', 'is', null);
  const messages = await query.execute();
  if (messages.length === 0) return [];
  const recipients = await ctx.store.db
    .selectFrom('recipients')
    .selectAll()
    .where(
      'message_id',
      'in',
      messages.map((m) => m.id),
    )
    .orderBy('id')
    .execute();
  return messages.map((m) => ({
    id: m.id,
    mailFrom: m.mail_from,
    size: Number(m.size),
    createdAt: Number(m.created_at),
    recipients: recipients
      .filter((r) => r.message_id === m.id)
      .map((r) => ({ id: r.id, address: r.address, state: r.state, attempts: Number(r.attempts), nextAttemptAt: Number(r.next_attempt_at), lastReply: r.last_reply, held: r.held_at != null })),
  }));
}

export async function show(ctx: QueueContext, messageId: string): Promise<MessageDetail | null> {
  const message = await ctx.store.db.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirst();
  if (!message) return null;
  const recipients = await ctx.store.db.selectFrom('recipients').selectAll().where('message_id', '=', messageId).orderBy('id').execute();
  const receipts = await ctx.store.db.selectFrom('receipts').selectAll().where('message_id', '=', messageId).orderBy('id').execute();
  const addressOf = new Map(recipients.map((r) => [r.id, r.address]));
  return {
    id: message.id,
    mailFrom: message.mail_from,
    size: Number(message.size),
    createdAt: Number(message.created_at),
    envelope: JSON.parse(message.envelope) as StoredEnvelope,
    recipients: recipients.map((r) => ({ id: r.id, address: r.address, state: r.state, attempts: Number(r.attempts), nextAttemptAt: Number(r.next_attempt_at), lastReply: r.last_reply, held: r.held_at != null })),
    receipts: receipts.map((r) => receiptOfRow({ ...r, recipient_address: addressOf.get(r.recipient_id) ?? null })),
  };
}

/** Opens every pending body to the end; returns the ids whose stored body is unreadable. */
export async function verify(ctx: QueueContext): Promise<string[]> {
  const rows = await ctx.store.db.selectFrom('messages').select('id').where('done_at', 'is', null).execute();
  const damaged: string[] = [];
  for (const { id } of rows) {
    try {
      for await (const chunk of await openBody(ctx, id)) void chunk;
    } catch {
      damaged.push(id);
    }
  }
  return damaged;
}
