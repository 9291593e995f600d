import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { keyObject } from '../vault/index.ts';
import type { Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';

/*
 * Portal sessions in the database, so any cluster node serves any request. The cookie holds a
 * random token; the row's id is its SHA-256, and what a recipient session must keep (the
 * message's read key) is sealed under a key derived from the token: a copy of the database
 * opens no session and no message.
 */

export type SessionKind = 'recipient' | 'sender';

export interface Session {
  kind: SessionKind;
  subject: string;
  secret: Buffer | null;
}

export type Resumed = { status: 'ok'; session: Session } | { status: 'idle' } | { status: 'none' };

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
// Writing last_seen_at on every request would make each page view a database write.
const TOUCH_AFTER_MS = 30_000;

const idOf = (token: string) => createHash('sha256').update(token).digest('base64url');
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
  async create(kind: SessionKind, subject: string, lifetimeMs: number, secret?: Buffer): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const id = idOf(token);
    const now = this.clock.now();
    await this.store.db.insertInto('web_sessions').values({
      id, kind, subject, sealed: secret ? seal(token, id, secret) : null, created_at: now, last_seen_at: now, expires_at: now + lifetimeMs,
    }).execute();
    return token;
  }

  async resume(token: string | undefined, kind: SessionKind): Promise<Resumed> {
    if (!token || !TOKEN.test(token)) return { status: 'none' };
    const id = idOf(token);
    const row = await this.store.db.selectFrom('web_sessions').selectAll().where('id', '=', id).where('kind', '=', kind).executeTakeFirst();
    if (!row) return { status: 'none' };
    const now = this.clock.now();
    if (row.expires_at <= now || row.last_seen_at + this.idleTimeoutMs <= now) {
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
    return { status: 'ok', session: { kind, subject: row.subject, secret } };
  }

  async end(token: string | undefined): Promise<void> {
    if (!token || !TOKEN.test(token)) return;
    await this.store.db.deleteFrom('web_sessions').where('id', '=', idOf(token)).execute();
  }

  /** Ends every session of a subject (a message that was deleted or withdrawn). */
  async endAllOf(kind: SessionKind, subject: string): Promise<void> {
    await this.store.db.deleteFrom('web_sessions').where('kind', '=', kind).where('subject', '=', subject).execute();
  }

  /** Deletes idle and expired sessions; returns how many. */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    const result = await this.store.db.deleteFrom('web_sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', now - this.idleTimeoutMs)])).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
