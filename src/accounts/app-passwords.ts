/**
 * App passwords: one per mail client, for SMTP AUTH only. With a second factor the account's
 * own password no longer works for SMTP (a client cannot type a TOTP code), so a stolen main
 * password is not a way to send; each app password is revoked on its own.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import { ARGON2 } from './argon2-params.ts';
import { AccountError } from './errors.ts';

const MAX_PER_USER = 20;
const LABEL = /^[\p{L}\p{N} ._-]{1,64}$/u;

export interface AppPasswordInfo {
  id: string;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export class AppPasswords {
  private readonly store: Store;
  private readonly clock: Clock;

  constructor(store: Store, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  /** A new app password (shown once: 24 random characters in four groups). */
  async add(username: string, label: string): Promise<{ id: string; password: string }> {
    if (!LABEL.test(label)) throw new AccountError('an app password label is 1–64 letters, digits, spaces, dots, dashes or underscores (e.g. "Thunderbird laptop")');
    const count = await this.store.db.selectFrom('app_passwords').select((eb) => eb.fn.countAll<number>().as('n')).where('username', '=', username).executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_PER_USER) throw new AccountError(`${username} has ${MAX_PER_USER} app passwords already: revoke one first`);
    const raw = randomBytes(18).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, 'x').slice(0, 24);
    const password = raw.match(/.{6}/g)!.join('-');
    const id = randomUUID();
    await this.store.db.insertInto('app_passwords').values({ id, username, label, password_hash: await hash(password, ARGON2), created_at: this.clock.now(), last_used_at: null }).execute();
    return { id, password };
  }

  async list(username: string): Promise<AppPasswordInfo[]> {
    const rows = await this.store.db.selectFrom('app_passwords').selectAll().where('username', '=', username).orderBy('created_at').execute();
    return rows.map((r) => ({ id: r.id, label: r.label, createdAt: Number(r.created_at), lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at) }));
  }

  /** Revokes by id or by label. */
  async revoke(username: string, idOrLabel: string): Promise<number> {
    const result = await this.store.db
      .deleteFrom('app_passwords')
      .where('username', '=', username)
      .where((eb) => eb.or([eb('id', '=', idOrLabel), eb('label', '=', idOrLabel)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async removeAll(username: string): Promise<void> {
    await this.store.db.deleteFrom('app_passwords').where('username', '=', username).execute();
  }

  /** True when `password` is one of the user's app passwords (which is then marked used). */
  async verify(username: string, password: string): Promise<boolean> {
    // Typed with or without the dashes, in any case, as mail clients' password fields get them.
    const typed = password.trim().toLowerCase().replace(/[\s-]/g, '');
    if (!/^[a-z0-9]{24}$/.test(typed)) return false;
    const candidate = typed.match(/.{6}/g)!.join('-');
    const rows = await this.store.db.selectFrom('app_passwords').select(['id', 'password_hash']).where('username', '=', username).execute();
    for (const row of rows) {
      if (await verify(row.password_hash, candidate).catch(() => false)) {
        await this.store.db.updateTable('app_passwords').set({ last_used_at: this.clock.now() }).where('id', '=', row.id).execute();
        return true;
      }
    }
    return false;
  }
}
