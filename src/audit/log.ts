import { sql, type Kysely } from 'kysely';
import type { Clock, Logger } from '../kernel/index.ts';
import { sharedCommit, type Database, type Store } from '../store/index.ts';
import { canonicalJson, eventHash, firstBreak, GENESIS_HASH, type AuditEvent, type AuditEventInput } from './chain.ts';
import { checkpointValid, type AuditSigner, type Checkpoint } from './checkpoint.ts';
import type { CheckpointWitness } from './witness.ts';

/*
 * The append-only audit log (issue 13) on either store. One chain for the whole cluster: an
 * event takes the next `seq` after the head it read and links to that head's hash; `seq` is
 * the primary key, so of two nodes that read the same head only one insert wins and the other
 * reads the new head and tries again. No fork can be written, and no lock is held across nodes.
 */

export interface AuditLogOptions {
  store: Store;
  /** The node that writes (runtime.nodeId; `cli` for the command line). */
  node: string;
  clock: Clock;
  signer: AuditSigner;
  logger?: Logger;
  /** A signed checkpoint every this many events (and on `checkpoint()`). */
  checkpointEvery?: number;
  /** Where the newest checkpoint this node signed is kept outside the database (witness.ts). */
  witness?: CheckpointWitness;
}

export interface AuditFilter {
  action?: string;
  actor?: string;
  target?: string;
  since?: number;
  until?: number;
  limit?: number;
}

export interface AuditVerifyReport {
  ok: boolean;
  events: number;
  checkpoints: number;
  /** Events after the newest checkpoint: chained, not yet signed. */
  unsigned: number;
  publicKey: string;
  /** The first event at which the log is broken, and what is wrong, in a sentence. */
  broken: { seq: number; sentence: string } | null;
}

/** The gateway will not sign a head that does not follow its last signature. */
export class AuditChainBrokenError extends Error {
  override name = 'AuditChainBrokenError';
}

const MAX_APPEND_TRIES = 50;
const PAGE = 1000;

function isDuplicateKey(error: unknown): boolean {
  const e = error as { code?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

type EventRow = { seq: number; at: number; node: string; actor: string; action: string; target: string | null; ip: string | null; protocol: string | null; detail: string; prev_hash: string; hash: string };

function fromRow(row: EventRow): AuditEvent {
  return {
    seq: Number(row.seq), at: Number(row.at), node: row.node, actor: row.actor, action: row.action, target: row.target, ip: row.ip, protocol: row.protocol,
    detail: JSON.parse(row.detail) as Record<string, unknown>, prevHash: row.prev_hash, hash: row.hash,
  };
}

export class AuditLog {
  private readonly options: Required<Omit<AuditLogOptions, 'logger' | 'witness'>> & { logger?: Logger; witness?: CheckpointWitness };

  constructor(options: AuditLogOptions) {
    this.options = { checkpointEvery: 100, ...options };
  }

  get publicKey(): string {
    return this.options.signer.publicKey;
  }

  /** Appends one event to the chain; resolves once it is committed. */
  async record(input: AuditEventInput): Promise<AuditEvent> {
    return (await this.recordMany([input]))[0];
  }

  /**
   * Appends events in order as one insert (one transaction): the message lifecycle writes many
   * (`AuditBatcher`), and one statement per batch keeps the chain off the relay's critical path.
   */
  async recordMany(inputs: AuditEventInput[]): Promise<AuditEvent[]> {
    if (inputs.length === 0) return [];
    const { store, node, clock } = this.options;
    // Normalised through JSON once, so what is hashed is what a reader parses back.
    // The canonical text is what is hashed and stored: made once per event, not three times.
    const detailJson = inputs.map((input) => canonicalJson(input.detail ?? {}));
    const details = detailJson.map((text) => JSON.parse(text) as Record<string, unknown>);
    for (let attempt = 0; ; attempt++) {
      let events: AuditEvent[];
      try {
        events = await this.appending(async (db) => {
          // Constant text (prepared once): the builder cost more of the event loop than SQLite ran it (issue 14).
          const head = (await sql<{ seq: number | string; hash: string }>`select seq, hash from audit_events order by seq desc limit 1`.execute(db)).rows[0];
          const chained: AuditEvent[] = [];
          let prev = { seq: head ? Number(head.seq) : 0, hash: head?.hash ?? GENESIS_HASH };
          const at = clock.now();
          inputs.forEach((input, i) => {
            const unhashed = {
              seq: prev.seq + 1, at, node, actor: input.actor, action: input.action,
              target: input.target ?? null, ip: input.ip ?? null, protocol: input.protocol ?? null, detail: details[i], prevHash: prev.hash,
            };
            const event: AuditEvent = { ...unhashed, hash: eventHash(unhashed, detailJson[i]) };
            chained.push(event);
            prev = event;
          });
          const rows = chained.map((event, i) => sql`(${event.seq}, ${event.at}, ${event.node}, ${event.actor}, ${event.action}, ${event.target}, ${event.ip},
            ${event.protocol}, ${detailJson[i]}, ${event.prevHash}, ${event.hash})`);
          await sql`insert into audit_events (seq, at, node, actor, action, target, ip, protocol, detail, prev_hash, hash) values ${sql.join(rows)}`.execute(db);
          return chained;
        });
      } catch (error) {
        // Another writer took one of these seqs: read the new head and link to it.
        if (isDuplicateKey(error) && attempt < MAX_APPEND_TRIES) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (attempt + 1)));
          continue;
        }
        throw error;
      }
      const every = this.options.checkpointEvery;
      if (Math.floor(events.at(-1)!.seq / every) > Math.floor((events[0].seq - 1) / every)) {
        await this.checkpoint().catch((error) => this.options.logger?.warn({ err: (error as Error).message }, 'audit checkpoint failed'));
      }
      return events;
    }
  }

  /**
   * Runs one append (head read and insert). On SQLite it joins the store's shared transaction
   * (issue 14): its own transaction was an fsync on the event loop per batch, and the queue
   * commits in every turn anyway; one writer means the head read there is the head. On
   * PostgreSQL the append keeps a transaction of its own, so another node's append waiting on
   * a seq does not hold the queue's inserts and settlements.
   */
  private appending<R>(work: (db: Kysely<Database>) => Promise<R>): Promise<R> {
    const store = this.options.store;
    return store.capabilities.dialect === 'sqlite' ? sharedCommit(store).run(work) : work(store.db);
  }

  /** Signs the current head unless it is signed already; returns the newest checkpoint. */
  async checkpoint(): Promise<Checkpoint | null> {
    const { store, signer, clock } = this.options;
    const head = await store.db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (!head) return null;
    const last = await this.latestCheckpoint();
    if (last && last.seq >= Number(head.seq)) return last;
    await this.assertFollowsLastSigned(Number(head.seq), last);
    const checkpoint = signer.sign(Number(head.seq), head.hash, clock.now());
    try {
      await store.db.insertInto('audit_checkpoints').values({ seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at, signature: checkpoint.signature, public_key: checkpoint.publicKey }).execute();
    } catch (error) {
      if (!isDuplicateKey(error)) throw error; // another node signed the same head
    }
    // Copies outside the database: the log line survives a database restored to before it,
    // and the witness file is what verify checks a rebuilt chain against.
    this.witness(checkpoint);
    this.options.logger?.info({ auditCheckpoint: { seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at, signature: checkpoint.signature } }, 'audit chain head signed');
    return checkpoint;
  }

  /**
   * Retention (issue 13): removes events written before `before`, always keeping the newest.
   * The last removed event's hash stays as a signed checkpoint, the anchor `verify` continues
   * from, so a pruned log still proves nothing after the anchor was touched, and a log cut
   * without the gateway's key has no anchor and fails. Returns how many events went.
   */
  async prune(before: number): Promise<{ removed: number; anchor: number | null }> {
    const { store, signer, clock } = this.options;
    const head = await store.db.selectFrom('audit_events').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (!head) return { removed: 0, anchor: null };
    const last = await store.db.selectFrom('audit_events').select(['seq', 'hash']).where('at', '<', before).where('seq', '<', Number(head.seq)).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (!last) return { removed: 0, anchor: null };
    await this.assertFollowsLastSigned(Number(head.seq), await this.latestCheckpoint());
    const anchor = signer.sign(Number(last.seq), last.hash, clock.now());
    const removed = await store.db.transaction().execute(async (trx) => {
      await trx.insertInto('audit_checkpoints').values({ seq: anchor.seq, hash: anchor.hash, at: anchor.at, signature: anchor.signature, public_key: anchor.publicKey })
        .onConflict((oc) => oc.column('seq').doNothing()).execute();
      await trx.deleteFrom('audit_checkpoints').where('seq', '<', anchor.seq).execute();
      const result = await trx.deleteFrom('audit_events').where('seq', '<=', anchor.seq).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
    this.witness(anchor);
    this.options.logger?.info({ auditCheckpoint: { seq: anchor.seq, hash: anchor.hash, at: anchor.at, signature: anchor.signature }, removed }, 'audit events past retention removed; anchor signed');
    store.scrub?.();
    return { removed, anchor: anchor.seq };
  }

  /**
   * Before signing a new head: the events from the newest checkpoint this gateway signed (in the
   * database or its witness file) up to `headSeq` still link to it. A chain rewritten with the
   * database alone (checkpoints deleted, hashes recomputed) would otherwise get a fresh signature,
   * and the new witness would replace the one that shows the rewrite. Refusing keeps the evidence.
   */
  private async assertFollowsLastSigned(headSeq: number, latest: Checkpoint | null): Promise<void> {
    const { store, signer, logger } = this.options;
    let witnessed: Checkpoint | null = null;
    try {
      witnessed = this.options.witness?.read() ?? null;
    } catch {
      witnessed = null; // unreadable: verify reports it; the database's checkpoints still anchor
    }
    const anchors = [latest, witnessed].filter((c): c is Checkpoint => c !== null && checkpointValid(c, signer.publicKey));
    const anchor = anchors.sort((a, b) => b.seq - a.seq)[0];
    if (!anchor) return;
    let broken: string | null = null;
    const at = await store.db.selectFrom('audit_events').select('hash').where('seq', '=', anchor.seq).executeTakeFirst();
    if (anchor.seq > headSeq) {
      // Another writer may have appended and signed since the head was read: then it is there.
      if (at?.hash !== anchor.hash) broken = `the log ends at event ${headSeq}, but a signed checkpoint covers event ${anchor.seq}`;
    } else {
      // A retention anchor's own event is gone by design; the events after it link to its hash.
      if (at && at.hash !== anchor.hash) broken = `event ${anchor.seq} is not the event the signed checkpoint covers`;
      for (let after = anchor.seq, before = { seq: anchor.seq, hash: anchor.hash }; !broken && after < headSeq; ) {
        const page = (await store.db.selectFrom('audit_events').selectAll().where('seq', '>', after).where('seq', '<=', headSeq).orderBy('seq', 'asc').limit(PAGE).execute()).map((r) => fromRow(r as EventRow));
        if (page.length === 0) break;
        broken = firstBreak(page, before)?.sentence ?? null;
        before = { seq: page.at(-1)!.seq, hash: page.at(-1)!.hash };
        after = before.seq;
      }
    }
    if (broken) {
      logger?.error({ auditSignedUpTo: anchor.seq, head: headSeq }, `AUDIT CHAIN BROKEN: not signing the head (${broken}); run sealgate audit verify`);
      throw new AuditChainBrokenError(`the audit chain no longer follows the checkpoint signed at event ${anchor.seq}: ${broken}; the head is not signed (run sealgate audit verify)`);
    }
  }

  /** Keeps `checkpoint` as the witness unless the witness holds a later one already. */
  private witness(checkpoint: Checkpoint): void {
    const { witness, logger } = this.options;
    if (!witness) return;
    try {
      const kept = witness.read();
      if (!kept || kept.seq < checkpoint.seq) witness.write(checkpoint);
    } catch (error) {
      logger?.warn({ err: (error as Error).message }, 'audit checkpoint witness not written');
    }
  }

  async latestCheckpoint(): Promise<Checkpoint | null> {
    const row = await this.options.store.db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row ? { seq: Number(row.seq), hash: row.hash, at: Number(row.at), signature: row.signature, publicKey: row.public_key } : null;
  }

  async list(filter: AuditFilter = {}): Promise<AuditEvent[]> {
    let query = this.options.store.db.selectFrom('audit_events').selectAll();
    // A prefix (`login` finds `login.failed`), compared without LIKE so no character is a wildcard.
    if (filter.action) query = query.where(sql<string>`substr(action, 1, ${filter.action.length})`, '=', filter.action);
    if (filter.actor) query = query.where('actor', '=', filter.actor);
    if (filter.target) query = query.where('target', '=', filter.target);
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('at', '<', filter.until);
    const rows = await query.orderBy('seq', 'asc').limit(Math.min(filter.limit ?? 10_000, 100_000)).execute();
    return rows.map((row) => fromRow(row as EventRow));
  }

  /**
   * Walks the whole chain and the checkpoints; names the first event where the log was edited,
   * cut short, reordered or rebuilt. `publicKey` is what the checkpoints must be signed with
   * (default: this gateway's key).
   */
  async verify(publicKey = this.publicKey): Promise<AuditVerifyReport> {
    const { store } = this.options;
    const breaks: { seq: number; sentence: string }[] = [];
    let before: { seq: number; hash: string } | null = null;
    let events = 0;
    const hashes = new Map<number, string>();
    // Read before the table: a checkpoint is in the table before it is in the witness.
    let witnessed: Checkpoint | null = null;
    let unreadable: string | undefined;
    try {
      witnessed = this.options.witness?.read() ?? null;
    } catch (error) {
      unreadable = (error as Error).message;
    }
    const checkpoints = (await store.db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'asc').execute()).map((r) => ({
      seq: Number(r.seq), hash: r.hash, at: Number(r.at), signature: r.signature, publicKey: r.public_key,
    }));
    const wanted = new Set([...checkpoints.map((c) => c.seq), ...(witnessed ? [witnessed.seq] : [])]);
    // A log pruned by retention starts after a signed anchor: the chain continues from its hash.
    const first = await store.db.selectFrom('audit_events').select('seq').orderBy('seq', 'asc').limit(1).executeTakeFirst();
    const firstSeq = first ? Number(first.seq) : 1;
    if (firstSeq > 1) {
      const anchor = checkpoints.find((c) => c.seq === firstSeq - 1);
      if (anchor && checkpointValid(anchor, publicKey)) before = { seq: anchor.seq, hash: anchor.hash };
      else breaks.push({ seq: 1, sentence: `events 1 to ${firstSeq - 1} were removed without a signed retention anchor: the log was cut at its start` });
    }
    for (let after = firstSeq - 1; ; ) {
      const page = (await store.db.selectFrom('audit_events').selectAll().where('seq', '>', after).orderBy('seq', 'asc').limit(PAGE).execute()).map((r) => fromRow(r as EventRow));
      if (page.length === 0) break;
      events += page.length;
      for (const event of page) if (wanted.has(event.seq)) hashes.set(event.seq, event.hash);
      if (breaks.length === 0) {
        const found = firstBreak(page, before);
        if (found) breaks.push(found);
      }
      const last = page[page.length - 1];
      before = { seq: last.seq, hash: last.hash };
      after = last.seq;
    }
    const headSeq = before?.seq ?? 0;
    for (const checkpoint of checkpoints) {
      if (checkpoint.seq < firstSeq - 1) continue; // covered events went by retention
      if (checkpoint.seq === firstSeq - 1 && firstSeq > 1) {
        if (!checkpointValid(checkpoint, publicKey)) breaks.push({ seq: checkpoint.seq, sentence: `the retention anchor at event ${checkpoint.seq} is not signed by this gateway's key` });
        continue;
      }
      if (!checkpointValid(checkpoint, publicKey)) {
        breaks.push({ seq: checkpoint.seq, sentence: `the checkpoint at event ${checkpoint.seq} is not signed by this gateway's key: it was forged or the key changed` });
      } else if (checkpoint.seq > headSeq) {
        breaks.push({ seq: headSeq + 1, sentence: `events ${headSeq + 1} to ${checkpoint.seq} were removed: a signed checkpoint covers event ${checkpoint.seq}, the log ends at ${headSeq}` });
      } else if (hashes.get(checkpoint.seq) !== checkpoint.hash) {
        breaks.push({ seq: checkpoint.seq, sentence: `event ${checkpoint.seq} is not the event the signed checkpoint covers: the chain up to it was rewritten` });
      }
    }
    if (unreadable) breaks.push({ seq: headSeq + 1, sentence: `the signed checkpoint kept outside the database cannot be read: ${unreadable}` });
    // The witness outside the database: deleting checkpoints from the table does not remove it.
    // (Two nodes may sign the same head: the table keeps one signature, so seq and hash are compared.)
    if (witnessed && witnessed.seq >= firstSeq && !checkpoints.some((c) => c.seq === witnessed.seq && c.hash === witnessed.hash)) {
      if (!checkpointValid(witnessed, publicKey)) {
        breaks.push({ seq: witnessed.seq, sentence: `the checkpoint kept outside the database (event ${witnessed.seq}) is not signed by this gateway's key` });
      } else if (witnessed.seq > headSeq) {
        breaks.push({ seq: headSeq + 1, sentence: `events ${headSeq + 1} to ${witnessed.seq} were removed: the signed checkpoint kept outside the database covers event ${witnessed.seq}, the log ends at ${headSeq}` });
      } else if (hashes.get(witnessed.seq) !== witnessed.hash) {
        breaks.push({ seq: witnessed.seq, sentence: `event ${witnessed.seq} is not the event the signed checkpoint kept outside the database covers: the chain up to it was rewritten` });
      } else {
        breaks.push({ seq: witnessed.seq, sentence: `the signed checkpoint at event ${witnessed.seq} was removed from the database (a copy is kept outside it)` });
      }
    }
    breaks.sort((a, b) => a.seq - b.seq);
    const signedUpTo = checkpoints.length ? checkpoints[checkpoints.length - 1].seq : 0;
    return { ok: breaks.length === 0, events, checkpoints: checkpoints.length, unsigned: Math.max(0, headSeq - signedUpTo), publicKey, broken: breaks[0] ?? null };
  }
}
