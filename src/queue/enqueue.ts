import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { sql, type Insertable } from 'kysely';
import type { Envelope } from '../kernel/index.ts';
import { crashPoint, MailError } from '../kernel/index.ts';
import { sharedCommit, type MessagesTable, type RecipientsTable } from '../store/index.ts';
import { createVault } from '../vault/index.ts';
import { sealControlsForRow, storeBody } from './bodies.ts';
import { dbNow, domainOf, type QueueContext } from './context.ts';
import { newMessageId } from './message-id.ts';

/** Bytes of each body's own data key (runtime.ts sizes the key files made ahead from it). */
export const BODY_KEY_BYTES = 32;

/** A message's rows as the intake commits them: the body is stored (inline or as a file) already. */
export interface IntakeRows {
  message: Insertable<MessagesTable>;
  recipients: Insertable<RecipientsTable>[];
}

/** Where a prepared message's rows are committed; resolves once they are durable. */
export type IntakeCommit = (rows: IntakeRows) => Promise<void>;

/**
 * The rows committed in the store's shared transaction (with the other messages of the turn
 * and the settlements: one fsync for all).
 */
export function commitIntakeRows(ctx: QueueContext, item: IntakeRows): Promise<void> {
  return sharedCommit(ctx.store).run(async (trx) => {
    // Due at once by the database's clock (a node whose clock runs ahead must not
    // postpone its own mail, nor one behind make it look old).
    const now = dbNow(ctx);
    // Constant text with its values (the statement cache keeps it prepared): through the
    // query builder these two inserts cost more of the event loop than SQLite ran them (issue 14).
    const m = item.message;
    await sql`insert into messages (id, mail_from, envelope, size, blob, body, created_at, delay_notice_sent, done_at)
      values (${m.id}, ${m.mail_from}, ${m.envelope}, ${m.size}, ${m.blob ?? null}, ${m.body ?? null}, ${now}, ${m.delay_notice_sent}, ${m.done_at ?? null})`.execute(trx);
    const rows = item.recipients.map((r) => sql`(${r.message_id}, ${r.address}, ${r.domain}, ${r.notify ?? null}, ${r.orcpt ?? null}, ${r.state},
      ${r.attempts}, ${now}, ${r.lease_owner ?? null}, ${r.lease_until ?? null}, ${r.lease_token ?? null}, ${r.last_reply ?? null}, ${now})`);
    await sql`insert into recipients (message_id, address, domain, notify, orcpt, state, attempts, next_attempt_at, lease_owner, lease_until, lease_token, last_reply, updated_at)
      values ${sql.join(rows)}`.execute(trx);
  });
}

/**
 * Takes messages in: body encrypted and stored here, the rows committed by `commit` (by default
 * in this process's store; a listener worker on SQLite hands them to the primary, the one writer).
 */
export class Intake {
  private readonly ctx: QueueContext;
  private readonly commit: IntakeCommit;

  constructor(ctx: QueueContext, commit: IntakeCommit = (rows) => commitIntakeRows(ctx, rows)) {
    this.ctx = ctx;
    this.commit = commit;
  }

  /**
   * Durable when it resolves: the encrypted body is fsynced and the envelope committed.
   * Only then may ingress answer 250. A body stream that errors aborts the whole enqueue.
   */
  async enqueue(envelope: Envelope, body: Readable): Promise<{ id: string }> {
    const ctx = this.ctx;
    if (envelope.recipients.length === 0) throw new MailError(554, '5.5.1', 'No valid recipients', 'queue');
    // An id whose key file is made already, when the key store has one ready (key-slots.ts).
    const id = ctx.keys.newId?.() ?? newMessageId();
    const now = ctx.clock.now();
    // The body's own data key (crypto-shredding: destroyed when the message is done), stored
    // sealed under the master key while the body streams in.
    const bodyKey = randomBytes(BODY_KEY_BYTES);
    const keyStored = ctx.keys.put(id, ctx.vault.seal(bodyKey));
    keyStored.catch(() => undefined);
    const bodyVault = createVault(bodyKey);
    const encrypt = bodyVault.encryptStream();
    let plainBytes = 0;
    body.on('data', (chunk: Buffer) => {
      plainBytes += chunk.length;
    });
    body.on('error', (error) => encrypt.destroy(error));
    let inline: Buffer | null;
    try {
      inline = await storeBody(ctx, id, body.pipe(encrypt));
      await keyStored;
    } catch (error) {
      await keyStored.then(() => ctx.keys.destroy(id), () => undefined).catch(() => undefined);
      if (error instanceof MailError) throw error;
      ctx.logger.error({ err: (error as Error).message, messageId: id }, 'queue write failed');
      throw new MailError(451, '4.3.0', 'Could not store the message; try again later', 'queue', { cause: error });
    }
    const { recipients, ...rest } = envelope;
    try {
      await this.commit({
        message: { id, mail_from: envelope.mailFrom, envelope: JSON.stringify(sealControlsForRow(ctx, rest, bodyVault)), size: plainBytes, blob: inline ? null : id, body: inline, created_at: now, delay_notice_sent: 0, done_at: null },
        recipients: recipients.map((r) => ({
          message_id: id,
          address: r.address,
          domain: domainOf(r.address),
          notify: r.notify ? r.notify.join(',') : null,
          orcpt: r.orcpt ?? null,
          state: 'queued',
          attempts: 0,
          next_attempt_at: now,
          lease_owner: null,
          lease_until: null,
          lease_token: null,
          last_reply: null,
          updated_at: now,
        })),
      });
    } catch (error) {
      await ctx.blobs.remove(id).catch(() => undefined);
      await ctx.keys.destroy(id).catch(() => undefined);
      ctx.logger.error({ err: (error as Error).message, messageId: id }, 'queue commit failed');
      throw new MailError(451, '4.3.0', 'Could not store the message; try again later', 'queue', { cause: error });
    }
    crashPoint('after-enqueue-commit'); // durable, but the client has no 250 yet
    return { id };
  }
}
