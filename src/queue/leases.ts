/** Leases: who may attempt which recipients, until when (see the contract in queue.ts). */
import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { DsnNotify } from '../kernel/index.ts';
import { sharedCommit, type Database, type MessagesTable } from '../store/index.ts';
import { openControlsOfRow } from './bodies.ts';
import { dbNow, type QueueContext } from './context.ts';
import type { LeasedGroup, LeaseRef, StoredEnvelope } from './types.ts';

export interface LeaseOptions {
  skipDomains?: string[];
  slotsFor?: (domain: string) => number;
}

/**
 * Hands out due recipients (and those of expired leases), grouped by message and domain,
 * under one new lease. `skipDomains`: domains the caller cannot start now (at their
 * per-domain limit), so their work stays free for other nodes. `slotsFor`: how many groups
 * of a domain the caller can start now; then `limit` counts groups, picked by a read first,
 * so nothing is leased only to be given back.
 */
export async function lease(ctx: QueueContext, owner: string, limit: number, leaseMs: number, options: LeaseOptions = {}): Promise<LeasedGroup[]> {
  const token = randomBytes(12).toString('base64url');
  // On SQLite the lease joins the store's shared transaction (issue 14): as a statement of its
  // own it was an fsync on the event loop, 0.5 per relayed message. It is committed, as
  // before, when this resolves. PostgreSQL's lease keeps its own short transaction, so the
  // rows it locks (SKIP LOCKED) are not held while other work of the turn commits.
  const pick = (db: Kysely<Database>) => pickAndLease(ctx, db, owner, token, limit, leaseMs, options);
  const rows = ctx.store.capabilities.dialect === 'sqlite' ? await sharedCommit(ctx.store).run(pick) : await pick(ctx.store.db);
  if (rows.length === 0) return [];
  // Our clock minus the database's: stored times are turned into ours for the worker.
  const skew = ctx.store.capabilities.databaseClock ? ctx.clock.now() - Number(rows[0].db_now) : 0;
  const leaseRef = { owner, token };
  const messageIds = [...new Set(rows.map((r) => r.message_id))];
  const { rows: messages } = await sql<Selectable<MessagesTable>>`select * from messages where id in (${sql.join(messageIds)})`.execute(ctx.store.db);
  const byId = new Map(messages.map((m) => [m.id, m]));
  const groups = new Map<string, LeasedGroup>();
  for (const row of rows) {
    const message = byId.get(row.message_id);
    if (!message) continue;
    const key = `${row.message_id}\u0000${row.domain}`;
    let group = groups.get(key);
    if (!group) {
      group = {
        lease: leaseRef,
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
  for (const group of groups.values()) group.envelope = await openControlsOfRow(ctx, group.messageId, group.envelope);
  return [...groups.values()];
}

type LeasedRow = { id: number; message_id: string; address: string; domain: string; notify: string | null; orcpt: string | null; attempts: number; db_now: number };

async function pickAndLease(ctx: QueueContext, db: Kysely<Database>, owner: string, token: string, limit: number, leaseMs: number, options: LeaseOptions): Promise<LeasedRow[]> {
  const now = dbNow(ctx);
  const skip = options.skipDomains?.length ? sql`and domain not in (${sql.join(options.skipDomains)})` : sql``;
  // A held recipient (`queue hold`) is never handed out, whatever its schedule or lease.
  const due = sql<boolean>`((state = 'queued' and next_attempt_at <= ${now}) or (state = 'leased' and lease_until < ${now})) and held_at is null ${skip}`;
  // SQLite has one writer at a time, so a plain UPDATE … RETURNING is already exclusive.
  const lock = ctx.store.capabilities.skipLocked ? sql`for update skip locked` : sql``;
  let pick = sql`where ${due} order by next_attempt_at limit ${limit}`;
  if (options.slotsFor) {
    // Choose (message, domain) groups within each domain's free slots; the update re-checks
    // that each row is still due, so a race with another node only leases less.
    const candidates = await sql<{ message_id: string; domain: string }>`select message_id, domain from recipients where ${due} order by next_attempt_at limit ${limit * 4}`.execute(db);
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
  const result = await sql<LeasedRow>`
    update recipients set state = 'leased', lease_owner = ${owner}, lease_token = ${token}, lease_until = ${now} + ${leaseMs}
    where id in (select id from recipients ${pick} ${lock})
    returning id, message_id, address, domain, notify, orcpt, attempts, ${now} as db_now`.execute(db);
  return result.rows;
}

/**
 * Which of these recipients the lease still holds. Before a transaction the lease must be
 * unexpired (another node may take it any moment). After one (`{ expired: 'ok' }`) the
 * question is what `settle` will apply: a lapsed lease nobody took over still settles, so
 * what is reported with the result (a failure report) must follow the same rule.
 */
export async function holding(ctx: QueueContext, leaseRef: LeaseRef, recipientIds: number[], options: { expired?: 'ok' } = {}): Promise<Set<number>> {
  if (recipientIds.length === 0) return new Set();
  // Constant text (prepared once per recipient count): asked before every attempt (issue 14).
  const unexpired = options.expired === 'ok' ? sql`` : sql`and lease_until > ${dbNow(ctx)}`;
  const { rows } = await sql<{ id: number }>`select id from recipients where id in (${sql.join(recipientIds)})
    and state = 'leased' and lease_token = ${leaseRef.token} ${unexpired}`.execute(ctx.store.db);
  return new Set(rows.map((r) => r.id));
}

/**
 * Heartbeat: extends the leases of attempts in progress. Returns the recipient ids still
 * held; one missing was taken over (its holder paused past the deadline) and will not be
 * settled by this lease.
 */
export async function renew(ctx: QueueContext, tokens: string[], leaseMs: number): Promise<Set<number>> {
  if (tokens.length === 0) return new Set();
  const now = dbNow(ctx);
  const rows = await ctx.store.db
    .updateTable('recipients')
    .set({ lease_until: sql<number>`${now} + ${leaseMs}` })
    .where('state', '=', 'leased')
    .where('lease_token', 'in', tokens)
    .returning('id')
    .execute();
  return new Set(rows.map((r) => r.id));
}

/** Gives leased recipients back untouched (work that cannot start now). */
export async function giveBack(ctx: QueueContext, leaseRef: LeaseRef, recipientIds: number[]): Promise<void> {
  if (recipientIds.length === 0) return;
  await ctx.store.db
    .updateTable('recipients')
    .set({ state: 'queued', lease_owner: null, lease_until: null, lease_token: null })
    .where('id', 'in', recipientIds)
    .where('state', '=', 'leased')
    .where('lease_token', '=', leaseRef.token)
    .execute();
}

/**
 * After a restart, this node's own leases are void: its deliveries died with it. With no owner
 * (a restored backup, where no node has run yet) every lease is void.
 */
export async function releaseLeases(ctx: QueueContext, owner: string | null): Promise<number> {
  let query = ctx.store.db
    .updateTable('recipients')
    .set({ state: 'queued', lease_owner: null, lease_until: null, lease_token: null })
    .where('state', '=', 'leased');
  if (owner !== null) query = query.where('lease_owner', '=', owner);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
