/**
 * What `postsuper`/`postqueue` offer, on the recipients still pending: hold and release,
 * delete by domain, sender or all, flush. A recipient under a lease is being tried right
 * now: nothing here breaks a lease (that would send twice); a hold lets the attempt finish
 * and keeps a deferral from being tried again, a delete leaves it and says so.
 */
import { sql, type ExpressionBuilder } from 'kysely';
import { canonicalDomain } from '../mail/index.ts';
import type { Database } from '../store/index.ts';
import { shred } from './bodies.ts';
import { dbNow, type QueueContext } from './context.ts';
import { reap } from './housekeeping.ts';
import { finishIfDone } from './settle.ts';

/** Which pending recipients an admin command means. */
export type QueueSelector = { messageId: string } | { domain: string } | { sender: string } | { all: true };

export interface QueueTotals {
  messages: number;
  bytes: number;
  recipients: { queued: number; held: number; leased: number };
}

/** A selector as the queue can match it: a domain as every spelling the pending recipients use. */
type Resolved = Exclude<QueueSelector, { domain: string }> | { domains: string[] };

/**
 * Recipients keep the domain as the client spelled it (`bücher.example` or its A-label): a
 * hold for the domain must catch both, or some of its mail still goes out.
 */
async function resolve(ctx: QueueContext, selector: QueueSelector): Promise<Resolved> {
  // The null sender is `<>`; an empty selector would select every bounce by accident.
  if ('sender' in selector && selector.sender.trim() === '') throw new Error('a sender selector needs an address, or <> for the null sender');
  if (!('domain' in selector)) return selector;
  const wanted = canonicalDomain(selector.domain.trim());
  const pending = await ctx.store.db.selectFrom('recipients').select('domain').distinct().where('state', 'in', ['queued', 'leased']).execute();
  const domains = pending.map((r) => r.domain).filter((d) => canonicalDomain(d) === wanted);
  return { domains: domains.length ? domains : [wanted] };
}

function selects(selector: Resolved) {
  return (eb: ExpressionBuilder<Database, 'recipients'>) => {
    if ('messageId' in selector) return eb('recipients.message_id', '=', selector.messageId);
    if ('domains' in selector) return eb('recipients.domain', 'in', selector.domains);
    if ('sender' in selector) {
      // `<>` names the null sender, as postqueue prints it.
      const sender = selector.sender === '<>' ? '' : selector.sender.replace(/^<(.*)>$/, '$1').toLowerCase();
      return eb('recipients.message_id', 'in', eb.selectFrom('messages').select('messages.id').where(sql<string>`lower(messages.mail_from)`, '=', sender).where('messages.done_at', 'is', null));
    }
    return sql<boolean>`1 = 1`;
  };
}

/** Holds the selected pending recipients; returns how many were newly held. */
export async function hold(ctx: QueueContext, selector: QueueSelector): Promise<{ recipients: number; inFlight: number }> {
  const resolved = await resolve(ctx, selector);
  const result = await ctx.store.db
    .updateTable('recipients')
    .set({ held_at: dbNow(ctx) })
    .where(selects(resolved))
    .where('state', 'in', ['queued', 'leased'])
    .where('held_at', 'is', null)
    .returning('state')
    .execute();
  return { recipients: result.length, inFlight: result.filter((r) => r.state === 'leased').length };
}

/** Releases held recipients, due at once; returns how many. */
export async function unhold(ctx: QueueContext, selector: QueueSelector): Promise<number> {
  const now = dbNow(ctx);
  const resolved = await resolve(ctx, selector);
  const result = await ctx.store.db
    .updateTable('recipients')
    .set((eb) => ({ held_at: null, next_attempt_at: eb.case().when('state', '=', 'queued').then(now).else(eb.ref('next_attempt_at')).end() }))
    .where(selects(resolved))
    .where('held_at', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Makes every deferred (queued, not held) recipient due now, like `postqueue -f`. */
export async function flush(ctx: QueueContext): Promise<number> {
  const result = await ctx.store.db
    .updateTable('recipients')
    .set({ next_attempt_at: dbNow(ctx) })
    .where('state', '=', 'queued')
    .where('held_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Deletes the selected pending recipients that no attempt holds; a message left with no
 * recipient at all is removed, one whose other recipients are all final is finished (its
 * body and key go). No bounce: like `postsuper -d`.
 */
export async function deletePending(ctx: QueueContext, selector: QueueSelector): Promise<{ recipients: number; messages: number; inFlight: number }> {
  const now = dbNow(ctx);
  const resolved = await resolve(ctx, selector);
  const outcome = await ctx.store.db.transaction().execute(async (trx) => {
    const doomed = await trx.selectFrom('recipients').select(['id', 'message_id', 'state']).where(selects(resolved)).where('state', 'in', ['queued', 'leased']).execute();
    const deletable = doomed.filter((r) => r.state === 'queued');
    const messageIds = [...new Set(deletable.map((r) => r.message_id))];
    for (let i = 0; i < deletable.length; i += 500) {
      await trx.deleteFrom('recipients').where('id', 'in', deletable.slice(i, i + 500).map((r) => r.id)).execute();
    }
    const removed: string[] = [];
    const finished: { id: string; file: string | null }[] = [];
    for (const id of messageIds) {
      const left = await trx.selectFrom('recipients').select((eb) => eb.fn.countAll<number>().as('n')).where('message_id', '=', id).executeTakeFirstOrThrow();
      if (Number(left.n) === 0) {
        await trx.deleteFrom('receipts').where('message_id', '=', id).execute();
        await trx.deleteFrom('messages').where('id', '=', id).execute();
        removed.push(id);
        continue;
      }
      const done = await finishIfDone(trx, id, now);
      if (done.done) finished.push({ id, file: done.file });
    }
    return { recipients: deletable.length, inFlight: doomed.length - deletable.length, removed, finished };
  });
  for (const id of outcome.removed) {
    await ctx.blobs.remove(id).catch(() => undefined);
    await shred(ctx, id);
  }
  for (const { id, file } of outcome.finished) {
    if (file) await reap(ctx, id);
    else await shred(ctx, id);
  }
  return { recipients: outcome.recipients, messages: outcome.removed.length + outcome.finished.length, inFlight: outcome.inFlight };
}

/** The whole queue in numbers (the totals line of `queue list`, like postqueue's). */
export async function totals(ctx: QueueContext): Promise<QueueTotals> {
  const messages = await ctx.store.db
    .selectFrom('messages')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.coalesce(eb.fn.sum<number>('size'), sql<number>`0`).as('bytes')])
    .where('done_at', 'is', null)
    .executeTakeFirstOrThrow();
  const byState = await ctx.store.db
    .selectFrom('recipients')
    .select((eb) => ['state', sql<number>`case when held_at is null then 0 else 1 end`.as('held'), eb.fn.countAll<number>().as('n')])
    .where('state', 'in', ['queued', 'leased'])
    .groupBy(['state', sql`case when held_at is null then 0 else 1 end`])
    .execute();
  const recipients = { queued: 0, held: 0, leased: 0 };
  for (const row of byState) {
    if (Number(row.held) === 1) recipients.held += Number(row.n);
    else if (row.state === 'leased') recipients.leased += Number(row.n);
    else recipients.queued += Number(row.n);
  }
  return { messages: Number(messages.n), bytes: Number(messages.bytes), recipients };
}
