/** Outcomes of attempts, recorded under their lease in the store's shared transaction. */
import { sql, type Transaction } from 'kysely';
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
      // Constant text with its values (the statement cache keeps it prepared): the query
      // builder cost more of the event loop than SQLite ran these (issue 14).
      const next = s.nextAttemptAt === undefined ? now : fromLocal(this.ctx, s.nextAttemptAt);
      const updated = await sql`update recipients set state = ${s.state}, attempts = attempts + 1, next_attempt_at = ${next},
        lease_owner = null, lease_until = null, lease_token = null, last_reply = ${storedText(s.reply)}, updated_at = ${now}
        where id = ${s.recipientId} and state = 'leased' and lease_token = ${lease.token}`.execute(trx);
      if (Number(updated.numAffectedRows ?? 0) === 0) {
        stale.push(s.recipientId);
        continue;
      }
      if (s.receipt) {
        const r = s.receipt;
        const kind = receiptKind(s.state, r);
        // Signed here, in the insert the outcome is recorded by: one Ed25519 signature, no extra query.
        const proof = kind && this.ctx.receiptSigner ? this.ctx.receiptSigner.sign(receiptDocument(kind, messageId, r)) : null;
        // An expiry settles 'failed' on the last attempt's receipt: the row says the final outcome.
        const outcome = kind === 'failed' ? 'failed' : r.outcome;
        const routeReason = r.routeReason === undefined ? null : storedText(r.routeReason);
        await sql`insert into receipts (message_id, recipient_id, at, mx_host, ip, port, tls_version, cipher, cert_subject, cert_verified,
          reply, outcome, route, route_reason, mail_from, recipient, message_sha256, cert_fingerprint, signed, signature)
          values (${messageId}, ${s.recipientId}, ${r.at}, ${r.mxHost}, ${r.ip}, ${r.port}, ${r.tlsVersion}, ${r.cipher}, ${r.certSubject}, ${r.certVerified ? 1 : 0},
          ${storedText(r.reply)}, ${outcome}, ${r.route ?? null}, ${routeReason}, ${r.mailFrom ?? null}, ${r.recipient}, ${r.messageSha256 ?? null},
          ${r.certFingerprint ?? null}, ${proof?.signed ?? null}, ${proof?.signature ?? null})`.execute(trx);
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
  // Finished: nothing of the body stays at rest longer than needed.
  const { rows } = await sql<{ blob: string | null }>`update messages set done_at = ${now}, body = null where id = ${messageId}
    and not exists (select 1 from recipients where message_id = ${messageId} and state in ('queued', 'leased')) returning blob`.execute(trx);
  const row = rows[0];
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
