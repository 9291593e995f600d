import { hash, verify } from '@node-rs/argon2';
import { isLinkLevel, LINK_LEVELS, type Clock, type LinkRequirement } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import { LoginBudget, networkOf, type BudgetPolicy } from './login-budget.ts';
import { ARGON2 } from './argon2-params.ts';
import { AccountError } from './errors.ts';
import type { Vault } from '../vault/index.ts';
import { AppPasswords } from './app-passwords.ts';
import { BreakGlass } from './break-glass.ts';
import { checkNewPassword } from './password-policy.ts';
import { isRole, Roles, type Role } from './roles.ts';
import { SecondFactors, type Enrolment } from './second-factor.ts';

export { AccountError };

/** Where a login comes from: SMTP AUTH (a mail client) or the console (a person at a browser). */
export type LoginProtocol = 'smtp' | 'console';

export interface AccountOptions {
  /** Seals TOTP secrets; without it no second factor can be set up. */
  vault?: Vault;
  passwordMinLength?: number;
  /** Roles whose members must have a second factor for interactive logins. */
  totpRequiredFor?: Role[];
}

const USERNAME = /^[A-Za-z0-9._@+-]{1,128}$/;
/** The `settings` row with the roles the admin console requires a second factor for. */
const REQUIRED_FACTOR_SETTING = 'login.totpRequiredFor';
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
  /** Consecutive failures (across windows) after which the account stays locked until an admin unlocks it. */
  accountLockAfter?: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { accountMaxFailures: 10, ipMaxFailures: 30, windowMs: 15 * 60_000, freeAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 60_000, accountLockAfter: 100 };
/** How long the consecutive-failure count of an account is kept: it ends with a success or an admin's unlock, not with a window. */
const STREAK_WINDOW_MS = 365 * 86_400_000;
const streakKey = (account: string) => `streak:${account}`;

/**
 * A login's outcome: `locked`/`slow-down` were never checked (the budget was spent);
 * `second-factor`: the password was right, the code missing or wrong (console);
 * `forbidden`: the credentials were right but this login may not happen, for `reason`.
 */
export type LoginOutcome =
  | { status: 'ok' }
  | { status: 'invalid' }
  | { status: 'locked' | 'slow-down'; retryAfterMs: number }
  | { status: 'second-factor' }
  | { status: 'forbidden'; reason: ForbiddenReason };

/** `failure-lock`: `accountLockAfter` failures in a row; refused before any password is checked, until an admin unlocks. */
export type ForbiddenReason = 'admin-lock' | 'failure-lock' | 'no-role' | 'app-password-required' | 'second-factor-required';


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
  private readonly streakPolicy: BudgetPolicy;
  private readonly passwordMinLength: number;
  private readonly totpRequiredFor: Role[];
  readonly roles: Roles;
  readonly appPasswords: AppPasswords;
  /** Undefined without a vault (then nobody has a second factor). */
  readonly secondFactors: SecondFactors | undefined;
  /** The emergency access credential; its guesses spend the networks' login budgets. */
  readonly breakGlass: BreakGlass;

  constructor(store: Store, clock: Clock, limits: LoginLimits = DEFAULT_LOGIN_LIMITS, options: AccountOptions = {}) {
    this.store = store;
    this.clock = clock;
    this.passwordMinLength = options.passwordMinLength ?? 12;
    this.totpRequiredFor = options.totpRequiredFor ?? [];
    this.roles = new Roles(store, clock);
    this.appPasswords = new AppPasswords(store, clock);
    this.secondFactors = options.vault ? new SecondFactors(store, clock, options.vault) : undefined;
    this.budget = new LoginBudget(store, clock);
    const shared = { windowMs: limits.windowMs, freeAttempts: limits.freeAttempts, baseDelayMs: limits.baseDelayMs, maxDelayMs: limits.maxDelayMs };
    this.accountPolicy = { ...shared, maxFailures: limits.accountMaxFailures };
    // A network may hold many users (NAT): it gets more failures, and no delay of its own
    // before the account's would apply.
    this.ipPolicy = { ...shared, maxFailures: limits.ipMaxFailures, freeAttempts: Math.max(limits.freeAttempts, limits.accountMaxFailures) };
    // NIST SP 800-63B §5.2.2: at most 100 consecutive failures on an account, windows or not.
    const lockAfter = limits.accountLockAfter ?? 100;
    this.streakPolicy = { maxFailures: lockAfter, windowMs: STREAK_WINDOW_MS, freeAttempts: lockAfter, baseDelayMs: 0, maxDelayMs: 0 };
    this.breakGlass = new BreakGlass(store, clock, this.ipPolicy);
  }

  /**
   * A login through the shared budgets (every protocol calls this): the attempt is reserved on
   * the client's network and on the account before Argon2 runs, so parallel guesses cannot
   * exceed the budget; unknown users spend the same budget and the same verify time. Only a
   * login that passes every check gives the attempt back.
   *
   * SMTP (a mail client cannot type a code): the account password, or an app password; once
   * the user has a second factor (or their role requires one), app passwords only.
   * Console: the account password and, with a second factor, a TOTP or recovery `code`.
   * Both need the `role` asked for (`sender` unless the admin console asks for `admin`), and no admin lock.
   */
  async login(username: string, password: string, ip: string, options: { protocol?: LoginProtocol; code?: string; role?: Role | Role[] } = {}): Promise<LoginOutcome> {
    const { protocol = 'console', code, role = 'sender' } = options;
    const account = username.trim().toLowerCase();
    const reserved = await this.budget.reserve([
      { key: `ip:${networkOf(ip)}`, policy: this.ipPolicy },
      { key: `account:${account}`, policy: this.accountPolicy },
      { key: streakKey(account), policy: this.streakPolicy },
    ]);
    if ('reason' in reserved) {
      if (reserved.key === streakKey(account) && reserved.reason === 'locked') return { status: 'forbidden', reason: 'failure-lock' };
      return { status: reserved.reason, retryAfterMs: reserved.retryAfterMs };
    }
    const mainPassword = account !== '' && (await this.authenticate(username, password));
    // Not isActive(): a locked account must still be told it is locked, as with its own password.
    const appPassword = !mainPassword && protocol === 'smtp' && account !== '' && (await this.isEnabled(username)) && (await this.appPasswords.verify(username, password));
    if (!mainPassword && !appPassword) return { status: 'invalid' };
    const decided = await this.afterPassword(username, protocol, appPassword, code, role);
    // The right password, refused for a standing reason (a mail client still on the main password
    // after a second factor came on): no guess, so not in the run that locks until an admin
    // unlocks. A wrong TOTP code (`second-factor`) is a guess and stays in it.
    if (decided.status === 'forbidden') await this.budget.refund({ keys: reserved.keys.filter((k) => k.key === streakKey(account)) });
    if (decided.status !== 'ok') return decided;
    await this.budget.refund(reserved);
    await this.budget.clear(streakKey(account)); // a success ends the run of failures
    return { status: 'ok' };
  }

  private async afterPassword(username: string, protocol: LoginProtocol, viaAppPassword: boolean, code: string | undefined, role: Role | Role[]): Promise<LoginOutcome> {
    const row = await this.store.db.selectFrom('users').select('locked_at').where('username', '=', username).executeTakeFirst();
    if (row?.locked_at != null) return { status: 'forbidden', reason: 'admin-lock' };
    const roles = await this.roles.of(username);
    // Any one of the roles asked for (the admin console lets admins and auditors in).
    if (!(Array.isArray(role) ? role : [role]).some((r) => roles.includes(r))) return { status: 'forbidden', reason: 'no-role' };
    const hasFactor = (await this.secondFactors?.isEnabled(username)) ?? false;
    const requiredFor = await this.requiredSecondFactorRoles();
    const required = roles.some((r) => requiredFor.includes(r));
    if (protocol === 'smtp') return (hasFactor || required) && !viaAppPassword ? { status: 'forbidden', reason: 'app-password-required' } : { status: 'ok' };
    if (!hasFactor) return required ? { status: 'forbidden', reason: 'second-factor-required' } : { status: 'ok' };
    if (!code || !(await this.secondFactors!.verify(username, code))) return { status: 'second-factor' };
    return { status: 'ok' };
  }

  /**
   * The roles that must have a second factor: `login.totpRequiredFor` from the config, plus
   * those an admin required in the admin console (stored, so every node and restart sees them).
   */
  async requiredSecondFactorRoles(): Promise<Role[]> {
    const row = await this.store.db.selectFrom('settings').select('value').where('name', '=', REQUIRED_FACTOR_SETTING).executeTakeFirst();
    const stored = row ? (JSON.parse(row.value) as string[]).filter(isRole) : [];
    return [...new Set([...this.totpRequiredFor, ...stored])].sort();
  }

  /** What the admin console requires on top of the config (roles the config requires stay required). */
  async setRequiredSecondFactorRoles(roles: Role[]): Promise<void> {
    const value = JSON.stringify([...new Set(roles.filter(isRole))].sort());
    await this.store.db.insertInto('settings').values({ name: REQUIRED_FACTOR_SETTING, value }).onConflict((oc) => oc.column('name').doUpdateSet({ value })).execute();
  }

  /** The roles the configuration itself requires a second factor for (the console cannot lift them). */
  get configuredSecondFactorRoles(): Role[] {
    return [...this.totpRequiredFor];
  }

  /**
   * Starts setting up TOTP in a browser: the secret and its otpauth:// URI; the pending one
   * again while it is not confirmed. Never replaces a factor that is on (a stolen session must
   * not swap the owner's authenticator).
   */
  async enrolSecondFactor(username: string): Promise<Enrolment> {
    if (!this.secondFactors) throw new AccountError('second factors need the vault');
    if (await this.secondFactors.isEnabled(username)) throw new AccountError(`${username} has a second factor already`);
    return (await this.secondFactors.pending(username)) ?? this.secondFactors.enrol(username);
  }

  grantRole(username: string, role: Role): Promise<boolean> {
    return this.roles.grant(username, role);
  }

  revokeRole(username: string, role: Role): Promise<boolean> {
    return this.roles.revoke(username, role);
  }

  async hasSecondFactor(username: string): Promise<boolean> {
    return (await this.secondFactors?.isEnabled(username)) ?? false;
  }

  /** Turns TOTP on with the first code from the app; returns the recovery codes, shown once. */
  async confirmSecondFactor(username: string, code: string): Promise<string[]> {
    if (!this.secondFactors) throw new AccountError('second factors need the vault');
    return this.secondFactors.confirm(username, code);
  }

  /** Spends the emergency access credential (the admin console's break-glass page). */
  redeemBreakGlass(credential: string, ip: string): ReturnType<BreakGlass['redeem']> {
    return this.breakGlass.redeem(credential, ip);
  }

  /** Sets an admin lock (no login anywhere, sessions ended) or lifts it, with the failure budget. */
  async setLocked(username: string, locked: boolean): Promise<void> {
    const result = await this.store.db.updateTable('users').set({ locked_at: locked ? this.clock.now() : null }).where('username', '=', username).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new AccountError(`no user ${username}`);
    if (locked) await this.endSessions(username);
    else {
      await this.budget.clear(`account:${username.trim().toLowerCase()}`);
      await this.budget.clear(streakKey(username.trim().toLowerCase()));
    }
  }

  /** Whether the account is locked now: by an admin, or by its failure budget until `until`. */
  async lockState(username: string): Promise<{ adminLock: boolean; budgetLockedUntil: number | null }> {
    const row = await this.store.db.selectFrom('users').select('locked_at').where('username', '=', username).executeTakeFirst();
    if (!row) throw new AccountError(`no user ${username}`);
    const account = username.trim().toLowerCase();
    // The consecutive-failure lock ends only by an unlock: shown as lasting its whole (year-long) window.
    const until = [await this.budget.lockedUntil(`account:${account}`, this.accountPolicy), await this.budget.lockedUntil(streakKey(account), this.streakPolicy)].filter((t): t is number => t !== null);
    return { adminLock: row.locked_at != null, budgetLockedUntil: until.length ? Math.max(...until) : null };
  }

  async add(username: string, password: string): Promise<void> {
    if (!USERNAME.test(username)) throw new AccountError(`invalid user name ${JSON.stringify(username)}: use letters, digits and . _ @ + -`);
    checkNewPassword(password, { minLength: this.passwordMinLength }, username);
    const existing = await this.store.db.selectFrom('users').select('username').where('username', '=', username).executeTakeFirst();
    if (existing) throw new AccountError(`user ${username} exists already`);
    const password_hash = await hash(password, ARGON2);
    const now = this.clock.now();
    await this.store.db.transaction().execute(async (trx) => {
      await trx.insertInto('users').values({ username, password_hash, created_at: now, disabled: 0, pickup_always: 0, anonymous: 0 }).execute();
      await trx.insertInto('user_roles').values({ username, role: 'sender', granted_at: now }).execute();
    });
  }

  async setPassword(username: string, password: string): Promise<void> {
    checkNewPassword(password, { minLength: this.passwordMinLength }, username);
    const result = await this.store.db.updateTable('users').set({ password_hash: await hash(password, ARGON2) }).where('username', '=', username).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new AccountError(`no user ${username}`);
    // A new password is how an admin throws someone out (OWASP ASVS 3.3.3): no console session outlives it.
    await this.endSessions(username);
  }

  async remove(username: string): Promise<boolean> {
    const result = await this.store.db.deleteFrom('users').where('username', '=', username).executeTakeFirst();
    await this.store.db.deleteFrom('user_aliases').where('username', '=', username).execute();
    for (const table of ['user_roles', 'user_totp', 'user_recovery_codes', 'app_passwords'] as const) await this.store.db.deleteFrom(table).where('username', '=', username).execute();
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

  /** A user's console sessions as an admin sees them (the web tier's table; ended ones excluded). */
  async sessions(username: string): Promise<{ createdAt: number; lastSeenAt: number; expiresAt: number; ip: string | null; userAgent: string | null }[]> {
    const rows = await this.store.db.selectFrom('web_sessions').select(['created_at', 'last_seen_at', 'expires_at', 'ip', 'user_agent'])
      .where('kind', '=', 'sender').where('subject', '=', username).where('expires_at', '>', this.clock.now()).orderBy('created_at', 'desc').execute();
    return rows.map((r) => ({ createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at), expiresAt: Number(r.expires_at), ip: r.ip, userAgent: r.user_agent }));
  }

  /**
   * Ends every console and admin console session of a user (the web tier's sessions table;
   * subject = user name), and any forced second-factor set-up (`enrol`, subject `area:user`):
   * one begun with the old password must not bind an authenticator after a reset or a lock.
   */
  async endSessions(username: string): Promise<void> {
    await this.store.db.deleteFrom('web_sessions').where((eb) => eb.or([
      eb.and([eb('kind', 'in', ['sender', 'admin']), eb('subject', '=', username)]),
      eb.and([eb('kind', '=', 'enrol'), eb('subject', 'in', [`console:${username}`, `admin:${username}`])]),
    ])).execute();
  }

  /** The account exists and is not disabled (a lock is judged after the credentials). */
  private async isEnabled(username: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('users').select('disabled').where('username', '=', username).executeTakeFirst();
    return row !== undefined && row.disabled === 0;
  }

  async rolesOf(username: string): Promise<Role[]> {
    return this.roles.of(username);
  }

  /** True while the account exists and is neither disabled nor locked: checked on every console request. */
  async isActive(username: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('users').select(['disabled', 'locked_at']).where('username', '=', username).executeTakeFirst();
    return row !== undefined && row.disabled === 0 && row.locked_at == null;
  }

  async list(): Promise<{ username: string; createdAt: number; disabled: boolean; requiredLevel: LinkRequirement | null; pickupAlways: boolean; anonymous: boolean }[]> {
    const rows = await this.store.db.selectFrom('users').select(['username', 'created_at', 'disabled', 'required_level', 'pickup_always', 'anonymous']).orderBy('username').execute();
    return rows.map((r) => ({ username: r.username, createdAt: Number(r.created_at), disabled: r.disabled === 1, requiredLevel: r.required_level as LinkRequirement | null, pickupAlways: r.pickup_always === 1, anonymous: r.anonymous === 1 }));
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

  /** Every message this user submits is anonymous (issue 12), or no longer is. */
  async setAnonymous(username: string, anonymous: boolean): Promise<void> {
    const result = await this.store.db.updateTable('users').set({ anonymous: anonymous ? 1 : 0 }).where('username', '=', username).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new AccountError(`no user ${username}`);
  }

  /** What applies to every message of a user: a link requirement, always-pickup, anonymity. */
  async standingOf(username: string): Promise<{ requiredLevel?: LinkRequirement; pickupAlways: boolean; anonymous: boolean }> {
    const row = await this.store.db.selectFrom('users').select(['required_level', 'pickup_always', 'anonymous']).where('username', '=', username).executeTakeFirst();
    return { requiredLevel: (row?.required_level as LinkRequirement | null) ?? undefined, pickupAlways: row?.pickup_always === 1, anonymous: row?.anonymous === 1 };
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
