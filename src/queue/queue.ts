/**
 * The queue's contract (what every caller may rely on):
 *
 * - `enqueue` resolves only when the message is durable (body fsynced or committed, envelope
 *   committed); only then may ingress answer 250. If it throws, nothing was acknowledged.
 * - A recipient is in one state: `queued` (waiting for `next_attempt_at`), `leased` (one
 *   lease holds it), `delivered` or `failed` (final). Final states never change again.
 * - `lease` hands each due recipient to one lease: a random token, an owner (the node id)
 *   and a deadline `lease_until`. A lease whose deadline passed may be taken by another
 *   lease; the old holder has then lost it, whatever its own clock says.
 * - Lease deadlines and due times are read and written on the database's clock (`now()` on
 *   PostgreSQL), never compared across node clocks. On SQLite one process on one host owns
 *   the file, so its clock is the only one.
 * - A holder renews (`renew`) while an attempt runs, checks (`holding`) before it starts a
 *   transaction, and `settle`s with its lease: a settlement changes only recipients still
 *   `leased` under that token, so a node that paused past its deadline cannot overwrite
 *   what another node recorded. A stale settlement is dropped (and logged), never applied.
 * - Delivery is at least once: a node that dies or pauses mid-transaction may have sent
 *   what another node sends again. Nothing acknowledged is ever lost.
 * - When no recipient of a message is `queued` or `leased` any more, its body is deleted.
 * - The delay notice of a message is claimed once (`claimDelayNotice`, conditional update).
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { sql, type Insertable, type RawBuilder, type Transaction } from 'kysely';
import type { Clock, DeliveryReceipt, DsnNotify, Envelope, Logger } from '../kernel/index.ts';
import { crashPoint, MailError } from '../kernel/index.ts';
import type { BlobStore, Database, KeyStore, MessagesTable, RecipientsTable, Store } from '../store/index.ts';
import { openDatabaseKeyStore } from '../store/index.ts';
import { GroupCommit } from './group-commit.ts';
import { createVault, type Vault } from '../vault/index.ts';

export type StoredEnvelope = Omit<Envelope, 'recipients'>;

export interface QueuedRecipient {
  id: number;
  address: string;
  domain: string;
  notify?: DsnNotify[];
  orcpt?: string;
  attempts: number;
}

/** Names a lease: a settle or renewal must present it. */
export interface LeaseRef {
  owner: string;
  token: string;
}

/** Recipients of one message for one domain, leased together: one SMTP transaction. */
export interface LeasedGroup {
  lease: LeaseRef;
  messageId: string;
  domain: string;
  envelope: StoredEnvelope;
  size: number;
  /** On this process's clock (converted from the database's at lease time). */
  createdAt: number;
  delayNoticeSent: boolean;
  /** The encrypted body when it sits in the row (read with the lease: no second query). */
  storedBody: Buffer | null;
  recipients: QueuedRecipient[];
}

export interface Settlement {
  recipientId: number;
  state: 'delivered' | 'failed' | 'queued';
  reply: string;
  /** Required when state is 'queued'; on this process's clock (stored on the database's). */
  nextAttemptAt?: number;
  receipt?: DeliveryReceipt;
}

export interface MessageSummary {
  id: string;
  mailFrom: string;
  size: number;
  createdAt: number;
  recipients: { id: number; address: string; state: string; attempts: number; nextAttemptAt: number; lastReply: string | null }[];
}

export interface MessageDetail extends MessageSummary {
  envelope: StoredEnvelope;
  receipts: DeliveryReceipt[];
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** Marks a pickup secret in the envelope row sealed under the body key (not the master key). */
const BODY_SEALED = 'body:';

/** Encrypted bodies up to this size are stored in the row, larger ones as files. */
const INLINE_MAX = 256 * 1024;
/** A key without a message row is an upload in progress until it is this old (store's clock). */
const STRAY_KEY_AGE_MS = 3_600_000;

function newMessageId(): string {
  return randomBytes(12).toString('base64url');
}

export class Queue {
  private readonly store: Store;
  private readonly blobs: BlobStore;
  private readonly vault: Vault;
  private readonly keys: KeyStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly inserts: GroupCommit<{ message: Insertable<MessagesTable>; recipients: Insertable<RecipientsTable>[] }, null>;
  private readonly settlements: GroupCommit<{ messageId: string; lease: LeaseRef; settlements: Settlement[] }, { done: boolean; file: string | null; stale: number[] }>;

  /** `keys`: where each body's own data key lives (default: the `message_keys` table). */
  constructor(deps: { store: Store; blobs: BlobStore; vault: Vault; clock: Clock; logger: Logger; keys?: KeyStore }) {
    this.store = deps.store;
    this.blobs = deps.blobs;
    this.vault = deps.vault;
    this.keys = deps.keys ?? openDatabaseKeyStore(deps.store);
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.inserts = new GroupCommit((items) =>
      this.store.db.transaction().execute(async (trx) => {
        // Due at once by the database's clock (a node whose clock runs ahead must not
        // postpone its own mail, nor one behind make it look old).
        const now = this.dbNow();
        await trx.insertInto('messages').values(items.map((i) => ({ ...i.message, created_at: now }))).execute();
        await trx.insertInto('recipients').values(items.flatMap((i) => i.recipients.map((r) => ({ ...r, next_attempt_at: now, updated_at: now })))).execute();
        return items.map(() => null);
      }),
    );
    this.settlements = new GroupCommit((items) => this.store.db.transaction().execute(async (trx) => {
      const results: { done: boolean; file: string | null; stale: number[] }[] = [];
      for (const item of items) results.push(await this.settleIn(trx, item.messageId, item.lease, item.settlements));
      return results;
    }));
  }

  /**
   * Durable when it resolves: the encrypted body is fsynced and the envelope committed.
   * Only then may ingress answer 250. A body stream that errors aborts the whole enqueue.
   */
  async enqueue(envelope: Envelope, body: Readable): Promise<{ id: string }> {
    if (envelope.recipients.length === 0) throw new MailError(554, '5.5.1', 'No valid recipients', 'queue');
    const id = newMessageId();
    const now = this.clock.now();
    // The body's own data key (crypto-shredding: destroyed when the message is done), stored
    // sealed under the master key while the body streams in.
    const bodyKey = randomBytes(32);
    const keyStored = this.keys.put(id, this.vault.seal(bodyKey));
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
      inline = await this.storeBody(id, body.pipe(encrypt));
      await keyStored;
    } catch (error) {
      await keyStored.then(() => this.keys.destroy(id), () => undefined).catch(() => undefined);
      if (error instanceof MailError) throw error;
      this.logger.error({ err: (error as Error).message, messageId: id }, 'queue write failed');
      throw new MailError(451, '4.3.0', 'Could not store the message; try again later', 'queue', { cause: error });
    }
    const { recipients, ...rest } = envelope;
    try {
      await this.inserts.submit({
        message: { id, mail_from: envelope.mailFrom, envelope: JSON.stringify(this.sealControlsForRow(rest, bodyVault)), size: plainBytes, blob: inline ? null : id, body: inline, created_at: now, delay_notice_sent: 0, done_at: null },
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
      await this.blobs.remove(id).catch(() => undefined);
      await this.keys.destroy(id).catch(() => undefined);
      this.logger.error({ err: (error as Error).message, messageId: id }, 'queue commit failed');
      throw new MailError(451, '4.3.0', 'Could not store the message; try again later', 'queue', { cause: error });
    }
    crashPoint('after-enqueue-commit'); // durable, but the client has no 250 yet
    return { id };
  }

  /** Keeps a small encrypted body in memory for the row; spills a large one to a file. */
  private async storeBody(id: string, encrypted: Readable): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let length = 0;
    let spill: PassThrough | null = null;
    let writing: Promise<number> | null = null;
    try {
      for await (const chunk of encrypted) {
        if (spill) {
          if (!spill.write(chunk)) await once(spill, 'drain');
          continue;
        }
        parts.push(chunk as Buffer);
        length += (chunk as Buffer).length;
        if (length > INLINE_MAX) {
          spill = new PassThrough();
          writing = this.blobs.write(id, spill);
          for (const part of parts.splice(0)) spill.write(part);
        }
      }
    } catch (error) {
      spill?.destroy(error as Error);
      await writing?.catch(() => undefined);
      throw error;
    }
    if (!spill) return Buffer.concat(parts);
    spill.end();
    await writing;
    return null;
  }

  /** Decrypted body stream; errors with VaultIntegrityError if the stored object is damaged. */
  async openBody(messageId: string, storedBody?: Buffer | null): Promise<Readable> {
    const vault = await this.bodyVault(messageId);
    if (storedBody) return vault.decrypt(Readable.from([storedBody]));
    const row = await this.store.db.selectFrom('messages').select(['body', 'blob']).where('id', '=', messageId).executeTakeFirst();
    if (row?.body) return vault.decrypt(Readable.from([Buffer.from(row.body)]));
    return vault.decrypt(this.blobs.read(messageId));
  }

  /** The body's own key; bodies queued before keys existed (0016) were sealed under the master key. */
  private async bodyVault(messageId: string): Promise<Vault> {
    const sealed = await this.keys.get(messageId);
    return sealed ? createVault(this.vault.open(sealed)) : this.vault;
  }

  /** Destroys the body's key: from now on no copy of the body, anywhere, opens. */
  private async shred(messageId: string): Promise<void> {
    await this.keys.destroy(messageId);
    this.store.scrub?.();
  }

  /** The database's clock in epoch ms (see the contract above). */
  private dbNow(): RawBuilder<number> {
    if (this.store.capabilities.databaseClock) return sql<number>`(extract(epoch from now()) * 1000)::bigint`;
    return sql<number>`${this.clock.now()}`;
  }

  /** A time on this process's clock as the same moment on the database's. */
  private fromLocal(at: number): number | RawBuilder<number> {
    if (!this.store.capabilities.databaseClock) return at;
    return sql<number>`${this.dbNow()} + ${Math.round(at - this.clock.now())}`;
  }

  /**
   * Hands out due recipients (and those of expired leases), grouped by message and domain,
   * under one new lease. `skipDomains`: domains the caller cannot start now (at their
   * per-domain limit), so their work stays free for other nodes. `slotsFor`: how many groups
   * of a domain the caller can start now; then `limit` counts groups, picked by a read first,
   * so nothing is leased only to be given back.
   */
  async lease(owner: string, limit: number, leaseMs: number, options: { skipDomains?: string[]; slotsFor?: (domain: string) => number } = {}): Promise<LeasedGroup[]> {
    const token = randomBytes(12).toString('base64url');
    const now = this.dbNow();
    const skip = options.skipDomains?.length ? sql`and domain not in (${sql.join(options.skipDomains)})` : sql``;
    const due = sql<boolean>`((state = 'queued' and next_attempt_at <= ${now}) or (state = 'leased' and lease_until < ${now})) ${skip}`;
    // SQLite has one writer at a time, so a plain UPDATE … RETURNING is already exclusive.
    const lock = this.store.capabilities.skipLocked ? sql`for update skip locked` : sql``;
    let pick = sql`where ${due} order by next_attempt_at limit ${limit}`;
    if (options.slotsFor) {
      // A read (no lock, no write) picks the groups that fit; the update below re-checks
      // that each row is still due, so a race with another node only leases less.
      const candidates = await sql<{ message_id: string; domain: string }>`select message_id, domain from recipients where ${due} order by next_attempt_at limit ${limit * 4}`.execute(this.store.db);
      const chosen = new Map<string, { messageId: string; domain: string }>();
      const perDomain = new Map<string, number>();
      for (const c of candidates.rows) {
        const key = `${c.message_id}\u0000${c.domain}`;
        if (chosen.has(key) || chosen.size >= limit) continue;
        const taken = perDomain.get(c.domain) ?? 0;
        if (taken >= options.slotsFor(c.domain)) continue;
        perDomain.set(c.domain, taken + 1);
        chosen.set(key, { messageId: c.message_id, domain: c.domain });
      }
      if (chosen.size === 0) return [];
      const pairs = sql.join([...chosen.values()].map((g) => sql`(${g.messageId}, ${g.domain})`));
      pick = sql`where ${due} and (message_id, domain) in (values ${pairs})`;
    }
    const result = await sql<{ id: number; message_id: string; address: string; domain: string; notify: string | null; orcpt: string | null; attempts: number; db_now: number }>`
      update recipients set state = 'leased', lease_owner = ${owner}, lease_token = ${token}, lease_until = ${now} + ${leaseMs}
      where id in (select id from recipients ${pick} ${lock})
      returning id, message_id, address, domain, notify, orcpt, attempts, ${now} as db_now`.execute(this.store.db);
    const rows = result.rows;
    if (rows.length === 0) return [];
    // Our clock minus the database's: stored times are turned into ours for the worker.
    const skew = this.store.capabilities.databaseClock ? this.clock.now() - Number(rows[0].db_now) : 0;
    const lease = { owner, token };
    const messageIds = [...new Set(rows.map((r) => r.message_id))];
    const messages = await this.store.db.selectFrom('messages').selectAll().where('id', 'in', messageIds).execute();
    const byId = new Map(messages.map((m) => [m.id, m]));
    const groups = new Map<string, LeasedGroup>();
    for (const row of rows) {
      const message = byId.get(row.message_id);
      if (!message) continue;
      const key = `${row.message_id}\u0000${row.domain}`;
      let group = groups.get(key);
      if (!group) {
        group = {
          lease,
          messageId: message.id,
          domain: row.domain,
          envelope: JSON.parse(message.envelope) as StoredEnvelope,
          size: Number(message.size),
          createdAt: Number(message.created_at) + skew,
          delayNoticeSent: message.delay_notice_sent === 1,
          storedBody: message.body ? Buffer.from(message.body) : null,
          recipients: [],
        };
        groups.set(key, group);
      }
      group.recipients.push({
        id: row.id,
        address: row.address,
        domain: row.domain,
        notify: row.notify ? (row.notify.split(',') as DsnNotify[]) : undefined,
        orcpt: row.orcpt ?? undefined,
        attempts: Number(row.attempts),
      });
    }
    for (const group of groups.values()) group.envelope = await this.openControlsOfRow(group.messageId, group.envelope);
    return [...groups.values()];
  }

  /**
   * Which of these recipients the lease still holds. Before a transaction the lease must be
   * unexpired (another node may take it any moment). After one (`{ expired: 'ok' }`) the
   * question is what `settle` will apply: a lapsed lease nobody took over still settles, so
   * what is reported with the result (a failure report) must follow the same rule.
   */
  async holding(lease: LeaseRef, recipientIds: number[], options: { expired?: 'ok' } = {}): Promise<Set<number>> {
    if (recipientIds.length === 0) return new Set();
    let query = this.store.db
      .selectFrom('recipients')
      .select('id')
      .where('id', 'in', recipientIds)
      .where('state', '=', 'leased')
      .where('lease_token', '=', lease.token);
    if (options.expired !== 'ok') query = query.where('lease_until', '>', this.dbNow());
    const rows = await query.execute();
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Heartbeat: extends the leases of attempts in progress. Returns the recipient ids still
   * held; one missing was taken over (its holder paused past the deadline) and will not be
   * settled by this lease.
   */
  async renew(tokens: string[], leaseMs: number): Promise<Set<number>> {
    if (tokens.length === 0) return new Set();
    const now = this.dbNow();
    const rows = await this.store.db
      .updateTable('recipients')
      .set({ lease_until: sql<number>`${now} + ${leaseMs}` })
      .where('state', '=', 'leased')
      .where('lease_token', 'in', tokens)
      .returning('id')
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Gives leased recipients back untouched (work that cannot start now). */
  async release(lease: LeaseRef, recipientIds: number[]): Promise<void> {
    if (recipientIds.length === 0) return;
    await this.store.db
      .updateTable('recipients')
      .set({ state: 'queued', lease_owner: null, lease_until: null, lease_token: null })
      .where('id', 'in', recipientIds)
      .where('state', '=', 'leased')
      .where('lease_token', '=', lease.token)
      .execute();
  }

  /**
   * The sender's pickup passphrase or answer rides in the envelope row, which outlives the
   * body: in the row it is sealed under the body key, so it is shredded with the body (issue 9
   * item 8). It arrives and leaves the queue sealed by the master key, as ingress sealed it.
   */
  private sealControlsForRow<T extends StoredEnvelope>(envelope: T, bodyVault: Vault): T {
    const sealed = envelope.pickupControl?.sealedSecret;
    if (!sealed) return envelope;
    const secret = this.vault.open(Buffer.from(sealed, 'base64'));
    return { ...envelope, pickupControl: { ...envelope.pickupControl, sealedSecret: `${BODY_SEALED}${bodyVault.seal(secret).toString('base64')}` } };
  }

  private async openControlsOfRow(messageId: string, envelope: StoredEnvelope): Promise<StoredEnvelope> {
    const sealed = envelope.pickupControl?.sealedSecret;
    if (!sealed?.startsWith(BODY_SEALED)) return envelope;
    const keySealed = await this.keys.get(messageId);
    if (!keySealed) return { ...envelope, pickupControl: { ...envelope.pickupControl, sealedSecret: undefined } };
    const secret = createVault(this.vault.open(keySealed)).open(Buffer.from(sealed.slice(BODY_SEALED.length), 'base64'));
    return { ...envelope, pickupControl: { ...envelope.pickupControl, sealedSecret: this.vault.seal(secret).toString('base64') } };
  }

  /** After a restart, this node's own leases are void: its deliveries died with it. */
  async releaseLeases(owner: string): Promise<number> {
    const result = await this.store.db
      .updateTable('recipients')
      .set({ state: 'queued', lease_owner: null, lease_until: null, lease_token: null })
      .where('lease_owner', '=', owner)
      .where('state', '=', 'leased')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * Records the outcome of an attempt under its lease; returns true when the message has no
   * work left, in which case its body is already gone (inline) or deleted right after the
   * commit (file). Settlements of recipients the lease no longer holds are dropped.
   */
  async settle(messageId: string, lease: LeaseRef, settlements: Settlement[]): Promise<boolean> {
    const { done, file, stale } = await this.settlements.submit({ messageId, lease, settlements });
    if (stale.length) this.logger.warn({ messageId, owner: lease.owner, recipients: stale }, 'stale settlement dropped: the lease was lost to another attempt');
    if (file) await this.reap(messageId);
    else if (done) await this.shred(messageId);
    return done;
  }

  private async settleIn(trx: Transaction<Database>, messageId: string, lease: LeaseRef, settlements: Settlement[]): Promise<{ done: boolean; file: string | null; stale: number[] }> {
    const now = this.dbNow();
    const stale: number[] = [];
    for (const s of settlements) {
      const updated = await trx
        .updateTable('recipients')
        .set((eb) => ({
          state: s.state,
          attempts: eb('attempts', '+', 1),
          next_attempt_at: s.nextAttemptAt === undefined ? now : this.fromLocal(s.nextAttemptAt),
          lease_owner: null,
          lease_until: null,
          lease_token: null,
          last_reply: s.reply.slice(0, 1000),
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
            reply: r.reply.slice(0, 1000),
            outcome: r.outcome,
          })
          .execute();
      }
    }
    if (stale.length === settlements.length) return { done: false, file: null, stale };
    const open = await trx
      .selectFrom('recipients')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('message_id', '=', messageId)
      .where('state', 'in', ['queued', 'leased'])
      .executeTakeFirstOrThrow();
    if (Number(open.n) !== 0) return { done: false, file: null, stale };
    // Finished: nothing of the body stays at rest longer than needed.
    const row = await trx.selectFrom('messages').select('blob').where('id', '=', messageId).executeTakeFirst();
    await trx.updateTable('messages').set({ done_at: now, body: null }).where('id', '=', messageId).execute();
    return { done: true, file: row?.blob ?? null, stale };
  }

  /**
   * Claims the message's one delay notice: true for exactly one caller, however many
   * domain groups (on however many nodes) find the notice due at once.
   */
  async claimDelayNotice(messageId: string): Promise<boolean> {
    const result = await this.store.db.updateTable('messages').set({ delay_notice_sent: 1 }).where('id', '=', messageId).where('delay_notice_sent', '=', 0).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Deletes the body of a finished message: nothing of it stays at rest longer than needed. */
  async reap(messageId: string): Promise<void> {
    await this.shred(messageId);
    await this.blobs.remove(messageId);
    await this.store.db.updateTable('messages').set({ blob: null, body: null }).where('id', '=', messageId).execute();
  }

  /** Half-written body files of a crashed process (never acknowledged). */
  sweepTemp(olderThanMs?: number): Promise<number> {
    return this.blobs.sweepTemp(olderThanMs);
  }

  /** Bodies of messages finished before a crash, whose reap never ran. */
  async reapFinished(): Promise<number> {
    const rows = await this.store.db.selectFrom('messages').select('id').where('done_at', 'is not', null).where((eb) => eb.or([eb('blob', 'is not', null), eb('body', 'is not', null)])).execute();
    for (const row of rows) await this.reap(row.id);
    await this.sweepStrayKeys();
    return rows.length;
  }

  /**
   * Keys a crash left behind: of finished messages, or (after an hour) of an enqueue that
   * never committed. Runs at start and with the periodic orphan sweep. The key is written when
   * the upload starts, before its row exists, so a key without a row may be an upload in
   * progress on another node: its age is judged on the key store's clock (the database's on
   * PostgreSQL), and an hour leaves room for the slowest upload smtp-server lets through.
   */
  async sweepStrayKeys(): Promise<number> {
    const ids = await this.keys.idsOlderThan(0);
    const old = new Set(await this.keys.idsOlderThan(STRAY_KEY_AGE_MS));
    let removed = 0;
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500);
      const rows = await this.store.db.selectFrom('messages').select(['id', 'done_at']).where('id', 'in', batch).execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const id of batch) {
        const row = byId.get(id);
        if (row ? row.done_at === null : !old.has(id)) continue;
        await this.keys.destroy(id);
        removed++;
      }
    }
    if (removed) this.store.scrub?.();
    return removed;
  }

  async list(options: { state?: string; limit?: number } = {}): Promise<MessageSummary[]> {
    let query = this.store.db.selectFrom('messages').selectAll().orderBy('created_at', 'desc').limit(options.limit ?? 100);
    if (options.state === 'active') query = query.where('done_at', 'is', null);
    const messages = await query.execute();
    if (messages.length === 0) return [];
    const recipients = await this.store.db
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
        .map((r) => ({ id: r.id, address: r.address, state: r.state, attempts: Number(r.attempts), nextAttemptAt: Number(r.next_attempt_at), lastReply: r.last_reply })),
    }));
  }

  async show(messageId: string): Promise<MessageDetail | null> {
    const message = await this.store.db.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirst();
    if (!message) return null;
    const recipients = await this.store.db.selectFrom('recipients').selectAll().where('message_id', '=', messageId).orderBy('id').execute();
    const receipts = await this.store.db.selectFrom('receipts').selectAll().where('message_id', '=', messageId).orderBy('id').execute();
    const addressOf = new Map(recipients.map((r) => [r.id, r.address]));
    return {
      id: message.id,
      mailFrom: message.mail_from,
      size: Number(message.size),
      createdAt: Number(message.created_at),
      envelope: JSON.parse(message.envelope) as StoredEnvelope,
      recipients: recipients.map((r) => ({ id: r.id, address: r.address, state: r.state, attempts: Number(r.attempts), nextAttemptAt: Number(r.next_attempt_at), lastReply: r.last_reply })),
      receipts: receipts.map((r) => ({
        at: Number(r.at),
        recipient: addressOf.get(r.recipient_id) ?? String(r.recipient_id),
        mxHost: r.mx_host,
        ip: r.ip,
        port: r.port,
        tlsVersion: r.tls_version,
        cipher: r.cipher,
        certSubject: r.cert_subject,
        certVerified: r.cert_verified === 1,
        reply: r.reply,
        outcome: r.outcome as DeliveryReceipt['outcome'],
      })),
    };
  }

  /** Makes queued recipients due now (admin "retry"). */
  async retryNow(messageId: string): Promise<number> {
    const result = await this.store.db
      .updateTable('recipients')
      .set({ next_attempt_at: this.dbNow() })
      .where('message_id', '=', messageId)
      // A recipient under a lease is being tried right now: breaking its lease would send twice.
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async remove(messageId: string): Promise<boolean> {
    const result = await this.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('receipts').where('message_id', '=', messageId).execute();
      await trx.deleteFrom('recipients').where('message_id', '=', messageId).execute();
      return trx.deleteFrom('messages').where('id', '=', messageId).executeTakeFirst();
    });
    await this.blobs.remove(messageId).catch(() => undefined);
    await this.shred(messageId);
    return Number(result.numDeletedRows) > 0;
  }

  /** Opens every pending body to the end; returns the ids whose stored body is unreadable. */
  async verify(): Promise<string[]> {
    const rows = await this.store.db.selectFrom('messages').select('id').where('done_at', 'is', null).execute();
    const damaged: string[] = [];
    for (const { id } of rows) {
      try {
        for await (const chunk of await this.openBody(id)) void chunk;
      } catch {
        damaged.push(id);
      }
    }
    return damaged;
  }
}
