import { hash, verify } from '@node-rs/argon2';
import { isLinkLevel, LINK_LEVELS, type Clock, type LinkRequirement } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import { LoginBudget, networkOf, type BudgetPolicy } from './login-budget.ts';

// OWASP's Argon2id baseline (m=19 MiB, t=2, p=1).
const ARGON2 = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const USERNAME = /^[A-Za-z0-9._@+-]{1,128}$/;
// Argon2id (same parameters) of a random string nobody knows: an unknown user costs the same
// verify as a known one, with no first-call hashing that would tell the two apart.
const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$nGUtlphYVObqatWuOsWPgQ$Acm6oXcrxqO/15Z0xYdJIRV6pi3ZwLqle5TS7rtCPdw';

/** The login budgets (config `login.*`). */
export interface LoginLimits {
  accountMaxFailures: number;
  ipMaxFailures: number;
  windowMs: number;
  freeAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { accountMaxFailures: 10, ipMaxFailures: 30, windowMs: 15 * 60_000, freeAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 60_000 };

/** A login's outcome: refused ones were never checked (the budget was spent). */
export type LoginOutcome =
  | { status: 'ok' }
  | { status: 'invalid' }
  | { status: 'locked' | 'slow-down'; retryAfterMs: number };

export class AccountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AccountError';
  }
}

/** What a user may put in `MAIL FROM` and `From:` (lower case). */
export interface OwnedSenders {
  addresses: string[];
  domains: string[];
}

const ALIAS_ADDRESS = /^[^\s@<>()\[\],;:"\\]{1,64}@[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
const ALIAS_DOMAIN = /^@[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** `Bob@Corp.Test` → `bob@corp.test`; `@Corp.Test` → `@corp.test`; anything else is refused. */
export function normalizeAlias(alias: string): string {
  const value = alias.trim().toLowerCase();
  if (ALIAS_ADDRESS.test(value) || ALIAS_DOMAIN.test(value)) return value;
  throw new AccountError(`invalid alias ${JSON.stringify(alias)}: use an address (name@example.org) or a whole domain (@example.org)`);
}

export class Users {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly budget: LoginBudget;
  private readonly accountPolicy: BudgetPolicy;
  private readonly ipPolicy: BudgetPolicy;

  constructor(store: Store, clock: Clock, limits: LoginLimits = DEFAULT_LOGIN_LIMITS) {
    this.store = store;
    this.clock = clock;
    this.budget = new LoginBudget(store, clock);
    const shared = { windowMs: limits.windowMs, freeAttempts: limits.freeAttempts, baseDelayMs: limits.baseDelayMs, maxDelayMs: limits.maxDelayMs };
    this.accountPolicy = { ...shared, maxFailures: limits.accountMaxFailures };
    // A network may hold many users (NAT): it gets more failures, and no delay of its own
    // before the account's would apply.
    this.ipPolicy = { ...shared, maxFailures: limits.ipMaxFailures, freeAttempts: Math.max(limits.freeAttempts, limits.accountMaxFailures) };
  }

  /**
   * A login through the shared budgets (every protocol calls this): the attempt is reserved on
   * the client's network and on the account before Argon2 runs, so parallel guesses cannot
   * exceed the budget; unknown users spend the same budget and the same verify time.
   */
  async login(username: string, password: string, ip: string): Promise<LoginOutcome> {
    const account = username.trim().toLowerCase();
    const reserved = await this.budget.reserve([
      { key: `ip:${networkOf(ip)}`, policy: this.ipPolicy },
      { key: `account:${account}`, policy: this.accountPolicy },
    ]);
    if ('reason' in reserved) return { status: reserved.reason, retryAfterMs: reserved.retryAfterMs };
    const ok = account !== '' && (await this.authenticate(username, password));
    if (!ok) return { status: 'invalid' };
    await this.budget.refund(reserved);
    return { status: 'ok' };
  }

  async add(username: string, password: string): Promise<void> {
    if (!USERNAME.test(username)) throw new AccountError(`invalid user name ${JSON.stringify(username)}: use letters, digits and . _ @ + -`);
    if (password.length < 12) throw new AccountError('password too short: use at least 12 characters');
    const existing = await this.store.db.selectFrom('users').select('username').where('username', '=', username).executeTakeFirst();
    if (existing) throw new AccountError(`user ${username} exists already`);
    const password_hash = await hash(password, ARGON2);
    await this.store.db.insertInto('users').values({ username, password_hash, created_at: this.clock.now(), disabled: 0, pickup_always: 0 }).execute();
  }

  async setPassword(username: string, password: string): Promise<void> {
    if (password.length < 12) throw new AccountError('password too short: use at least 12 characters');
    const result = await this.store.db.updateTable('users').set({ password_hash: await hash(password, ARGON2) }).where('username', '=', username).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new AccountError(`no user ${username}`);
    // A new password is how an admin throws someone out (OWASP ASVS 3.3.3): no console session outlives it.
    await this.endSessions(username);
  }

  async remove(username: string): Promise<boolean> {
    const result = await this.store.db.deleteFrom('users').where('username', '=', username).executeTakeFirst();
    await this.store.db.deleteFrom('user_aliases').where('username', '=', username).execute();
    await this.endSessions(username);
    return Number(result.numDeletedRows) > 0;
  }

  /** Lets `username` send as `alias`: an address, or `@domain` for every address of the domain. */
  async addAlias(username: string, alias: string): Promise<string> {
    const address = normalizeAlias(alias);
    const user = await this.store.db.selectFrom('users').select('username').where('username', '=', username).executeTakeFirst();
    if (!user) throw new AccountError(`no user ${username}`);
    await this.store.db
      .insertInto('user_aliases')
      .values({ username, address, created_at: this.clock.now() })
      .onConflict((oc) => oc.columns(['username', 'address']).doNothing())
      .execute();
    return address;
  }

  async removeAlias(username: string, alias: string): Promise<boolean> {
    const result = await this.store.db.deleteFrom('user_aliases').where('username', '=', username).where('address', '=', normalizeAlias(alias)).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listAliases(username: string): Promise<string[]> {
    const rows = await this.store.db.selectFrom('user_aliases').select('address').where('username', '=', username).orderBy('address').execute();
    return rows.map((r) => r.address);
  }

  /**
   * The sender addresses `username` owns: the user name itself when it is an address (the
   * account's own address), its aliases, and whole domains granted as `@domain`.
   */
  async sendersOf(username: string): Promise<OwnedSenders> {
    const aliases = await this.listAliases(username);
    const own = username.includes('@') ? [username.toLowerCase()] : [];
    return {
      addresses: [...own, ...aliases.filter((a) => !a.startsWith('@'))],
      domains: aliases.filter((a) => a.startsWith('@')).map((a) => a.slice(1)),
    };
  }

  /** Ends every console session of a user (the web tier's sessions table; subject = user name). */
  async endSessions(username: string): Promise<void> {
    await this.store.db.deleteFrom('web_sessions').where('kind', '=', 'sender').where('subject', '=', username).execute();
  }

  /** True while the account exists and is not disabled: checked on every console request. */
  async isActive(username: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('users').select('disabled').where('username', '=', username).executeTakeFirst();
    return row !== undefined && row.disabled === 0;
  }

  async list(): Promise<{ username: string; createdAt: number; disabled: boolean; requiredLevel: LinkRequirement | null; pickupAlways: boolean }[]> {
    const rows = await this.store.db.selectFrom('users').select(['username', 'created_at', 'disabled', 'required_level', 'pickup_always']).orderBy('username').execute();
    return rows.map((r) => ({ username: r.username, createdAt: Number(r.created_at), disabled: r.disabled === 1, requiredLevel: r.required_level as LinkRequirement | null, pickupAlways: r.pickup_always === 1 }));
  }

  /** Every message this user submits must travel over at least `level` (null: no rule). */
  async setRequirement(username: string, level: LinkRequirement | null): Promise<void> {
    if (level !== null && !isLinkLevel(level)) throw new AccountError(`unknown link level ${JSON.stringify(level)}: use one of ${LINK_LEVELS.join(', ')}`);
    const result = await this.store.db.updateTable('users').set({ required_level: level === 'none' ? null : level }).where('username', '=', username).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new AccountError(`no user ${username}`);
  }

  /** Every message this user submits becomes a Secure Message Pickup (or no longer does). */
  async setPickupAlways(username: string, always: boolean): Promise<void> {
    const result = await this.store.db.updateTable('users').set({ pickup_always: always ? 1 : 0 }).where('username', '=', username).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new AccountError(`no user ${username}`);
  }

  /** What applies to every message of a user: a link requirement, always-pickup. */
  async standingOf(username: string): Promise<{ requiredLevel?: LinkRequirement; pickupAlways: boolean }> {
    const row = await this.store.db.selectFrom('users').select(['required_level', 'pickup_always']).where('username', '=', username).executeTakeFirst();
    return { requiredLevel: (row?.required_level as LinkRequirement | null) ?? undefined, pickupAlways: row?.pickup_always === 1 };
  }

  async authenticate(username: string, password: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('users').select(['password_hash', 'disabled']).where('username', '=', username).executeTakeFirst();
    if (!row) {
      await verify(DUMMY_HASH, password).catch(() => false);
      return false;
    }
    const ok = await verify(row.password_hash, password).catch(() => false);
    return ok && row.disabled === 0;
  }
}
