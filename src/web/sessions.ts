import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { keyObject } from '../vault/index.ts';
import type { Clock } from '../kernel/index.ts';
import type { Database, Store } from '../store/index.ts';
import { sql, type Selectable } from 'kysely';

/*
 * Portal sessions in the database, so any cluster node serves any request. The cookie holds a
 * random token; the row's id is its SHA-256, and what a recipient session must keep (the
 * message's read key) is sealed under a key derived from the token: a copy of the database
 * opens no session and no message.
 */

/** `enrol`: a right password that may only set up the second factor its role requires. */
export type SessionKind = 'recipient' | 'sender' | 'admin' | 'enrol';

export interface Session {
  kind: SessionKind;
  subject: string;
  secret: Buffer | null;
  /** This session's idle limit. */
  idleMs: number;
  /** The handle `list` shows for this session. */
  handle: string;
}

/** What a user sees of one of their sessions. */
export interface SessionInfo {
  handle: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
}

export interface SessionMeta {
  idleMs?: number;
  ip?: string;
  userAgent?: string;
}

export type Resumed = { status: 'ok'; session: Session } | { status: 'idle' } | { status: 'none' };

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
// Writing last_seen_at on every request would make each page view a database write.
const TOUCH_AFTER_MS = 30_000;

const idOf = (token: string) => createHash('sha256').update(token).digest('base64url');
// A short public name for a session: a prefix of its id (itself a hash), never the token.
const handleOf = (id: string) => id.slice(0, 10);
// What a browser says of itself, kept printable and short (it is shown back in a page).
const cleanAgent = (agent: string | undefined) => (agent ? agent.replace(/[^\x20-\x7e]/g, '?').slice(0, 256) : null);
const keyOf = (token: string) => keyObject(Buffer.from(hkdfSync('sha256', keyObject(Buffer.from(token, 'utf8')), Buffer.alloc(0), 'sealgate web session v1', 32)));

function seal(token: string, id: string, plain: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(token), iv);
  cipher.setAAD(Buffer.from(id));
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

function unseal(token: string, id: string, sealed: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', keyOf(token), sealed.subarray(0, 12));
  decipher.setAAD(Buffer.from(id));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
}

export class WebSessions {
  private readonly store: Store;
  private readonly clock: Clock;
  readonly idleTimeoutMs: number;

  constructor(store: Store, clock: Clock, idleTimeoutMs: number) {
    this.store = store;
    this.clock = clock;
    this.idleTimeoutMs = idleTimeoutMs;
  }

  /** A new session; returns the token for the cookie (never stored). */
  async create(kind: SessionKind, subject: string, lifetimeMs: number, secret?: Buffer, meta: SessionMeta = {}): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const id = idOf(token);
    const now = this.clock.now();
    await this.store.db.insertInto('web_sessions').values({
      id, kind, subject, sealed: secret ? seal(token, id, secret) : null, created_at: now, last_seen_at: now, expires_at: now + lifetimeMs,
      idle_ms: meta.idleMs ?? null, ip: meta.ip?.slice(0, 64) ?? null, user_agent: cleanAgent(meta.userAgent),
    }).execute();
    return token;
  }

  async resume(token: string | undefined, kind: SessionKind): Promise<Resumed> {
    if (!token || !TOKEN.test(token)) return { status: 'none' };
    const id = idOf(token);
    // Constant statement text: every request of a signed-in page resumes its session, and the
    // query builder builds and compiles a query again each time (bench/README.md, portal).
    const row = (await sql<Selectable<Database['web_sessions']>>`select * from web_sessions where id = ${id} and kind = ${kind}`.execute(this.store.db)).rows[0];
    if (!row) return { status: 'none' };
    const now = this.clock.now();
    const idleMs = row.idle_ms === null ? this.idleTimeoutMs : Number(row.idle_ms);
    if (row.expires_at <= now || row.last_seen_at + idleMs <= now) {
      await this.store.db.deleteFrom('web_sessions').where('id', '=', id).execute();
      return { status: 'idle' };
    }
    if (now - row.last_seen_at >= TOUCH_AFTER_MS) await this.store.db.updateTable('web_sessions').set({ last_seen_at: now }).where('id', '=', id).execute();
    let secret: Buffer | null = null;
    if (row.sealed) {
      try {
        secret = unseal(token, id, Buffer.from(row.sealed));
      } catch {
        return { status: 'none' };
      }
    }
    return { status: 'ok', session: { kind, subject: row.subject, secret, idleMs, handle: handleOf(id) } };
  }

  async end(token: string | undefined): Promise<void> {
    if (!token || !TOKEN.test(token)) return;
    await this.store.db.deleteFrom('web_sessions').where('id', '=', idOf(token)).execute();
  }

  /** Ends every session of a subject (a message that was deleted or withdrawn). */
  async endAllOf(kind: SessionKind, subject: string): Promise<void> {
    await this.store.db.deleteFrom('web_sessions').where('kind', '=', kind).where('subject', '=', subject).execute();
  }

  /** The live sessions of a subject, newest first. */
  async list(kind: SessionKind, subject: string): Promise<SessionInfo[]> {
    const now = this.clock.now();
    const rows = await this.store.db.selectFrom('web_sessions').selectAll().where('kind', '=', kind).where('subject', '=', subject).where('expires_at', '>', now).orderBy('created_at', 'desc').execute();
    return rows
      .filter((r) => Number(r.last_seen_at) + (r.idle_ms === null ? this.idleTimeoutMs : Number(r.idle_ms)) > now)
      .map((r) => ({ handle: handleOf(r.id), createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at), expiresAt: Number(r.expires_at), ip: r.ip, userAgent: r.user_agent }));
  }

  /** Ends every session of a subject but the one with `keepHandle`; returns how many ended. */
  async endOthers(kind: SessionKind, subject: string, keepHandle: string): Promise<number> {
    const rows = await this.store.db.selectFrom('web_sessions').select('id').where('kind', '=', kind).where('subject', '=', subject).execute();
    const doomed = rows.map((r) => r.id).filter((id) => handleOf(id) !== keepHandle);
    if (doomed.length) await this.store.db.deleteFrom('web_sessions').where('id', 'in', doomed).execute();
    return doomed.length;
  }

  /** Deletes idle and expired sessions (each by its own idle limit); returns how many. */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    const idle = sql<number>`coalesce(idle_ms, ${sql.lit(this.idleTimeoutMs)})`;
    const result = await this.store.db.deleteFrom('web_sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb(sql<number>`last_seen_at + ${idle}`, '<=', now)])).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
