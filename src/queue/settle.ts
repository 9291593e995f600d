/** Outcomes of attempts, recorded under their lease in the store's shared transaction. */
import type { Transaction } from 'kysely';
import { sharedCommit, type Database } from '../store/index.ts';
import { dbNow, fromLocal, type QueueContext } from './context.ts';
import { receiptDocument, receiptKind, storedText } from './receipts.ts';
import type { LeaseRef, Settlement } from './types.ts';

interface Settled {
  done: boolean;
  file: string | null;
  stale: number[];
}

export class Settler {
  private readonly ctx: QueueContext;

  constructor(ctx: QueueContext) {
    this.ctx = ctx;
  }

  /**
   * Records the outcome of an attempt; `done`: the message has no work left (its inline body
   * is already gone; `file` names a body file the caller deletes right after the commit).
   */
  async settle(messageId: string, lease: LeaseRef, settlements: Settlement[]): Promise<Settled> {
    // With the intake's inserts and the other settlements of the turn: one commit for all.
    const settled = await sharedCommit(this.ctx.store).run((trx) => this.settleIn(trx, messageId, lease, settlements));
    if (settled.stale.length) this.ctx.logger.warn({ messageId, owner: lease.owner, recipients: settled.stale }, 'stale settlement dropped: the lease was lost to another attempt');
    return settled;
  }

  private async settleIn(trx: Transaction<Database>, messageId: string, lease: LeaseRef, settlements: Settlement[]): Promise<Settled> {
    const now = dbNow(this.ctx);
    const stale: number[] = [];
    for (const s of settlements) {
      const updated = await trx
        .updateTable('recipients')
        .set((eb) => ({
          state: s.state,
          attempts: eb('attempts', '+', 1),
          next_attempt_at: s.nextAttemptAt === undefined ? now : fromLocal(this.ctx, s.nextAttemptAt),
          lease_owner: null,
          lease_until: null,
          lease_token: null,
          last_reply: storedText(s.reply),
          updated_at: now,
        }))
        .where('id', '=', s.recipientId)
        .where('state', '=', 'leased')
        .where('lease_token', '=', lease.token)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
        stale.push(s.recipientId);
        continue;
      }
      if (s.receipt) {
        const r = s.receipt;
        const kind = receiptKind(s.state, r);
        // Signed here, in the insert the outcome is recorded by: one Ed25519 signature, no extra query.
        const proof = kind && this.ctx.receiptSigner ? this.ctx.receiptSigner.sign(receiptDocument(kind, messageId, r)) : null;
        await trx
          .insertInto('receipts')
          .values({
            message_id: messageId,
            recipient_id: s.recipientId,
            at: r.at,
            mx_host: r.mxHost,
            ip: r.ip,
            port: r.port,
            tls_version: r.tlsVersion,
            cipher: r.cipher,
            cert_subject: r.certSubject,
            cert_verified: r.certVerified ? 1 : 0,
            reply: storedText(r.reply),
            // An expiry settles 'failed' on the last attempt's receipt: the row says the final outcome.
            outcome: kind === 'failed' ? 'failed' : r.outcome,
            route: r.route ?? null,
            route_reason: r.routeReason === undefined ? null : storedText(r.routeReason),
            mail_from: r.mailFrom ?? null,
            recipient: r.recipient,
            message_sha256: r.messageSha256 ?? null,
            cert_fingerprint: r.certFingerprint ?? null,
            signed: proof?.signed ?? null,
            signature: proof?.signature ?? null,
          })
          .execute();
      }
    }
    if (stale.length === settlements.length) return { done: false, file: null, stale };
    return finishIfDone(trx, messageId, now, stale);
  }
}

/**
 * Marks a message done when none of its recipients is pending; the row loses its body at once.
 * One statement (issue 14): the count, the read of `blob` and the update were three per
 * finished message. No row back: work is left (a message without its row has no recipients
 * either, `queue delete` removes both in one transaction, so it never gets here).
 */
export async function finishIfDone(trx: Transaction<Database>, messageId: string, now: ReturnType<typeof dbNow>, stale: number[] = []): Promise<Settled> {
  const row = await trx
    .updateTable('messages')
    .set({ done_at: now, body: null })
    .where('id', '=', messageId)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('recipients').select('recipients.id').whereRef('recipients.message_id', '=', 'messages.id').where('recipients.state', 'in', ['queued', 'leased']))),
    )
    // Finished: nothing of the body stays at rest longer than needed.
    .returning('blob')
    .executeTakeFirst();
  if (!row) return { done: false, file: null, stale };
  return { done: true, file: row.blob ?? null, stale };
}

/**
 * Claims the message's one delay notice: true for exactly one caller, however many
 * domain groups (on however many nodes) find the notice due at once.
 */
export async function claimDelayNotice(ctx: QueueContext, messageId: string): Promise<boolean> {
  const result = await ctx.store.db.updateTable('messages').set({ delay_notice_sent: 1 }).where('id', '=', messageId).where('delay_notice_sent', '=', 0).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
