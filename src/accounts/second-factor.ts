/**
 * TOTP second factors (RFC 6238, via otpauth: SHA-1, 6 digits, 30 s — what every
 * authenticator app reads from an otpauth:// URI) and single-use recovery codes.
 * The TOTP secret is sealed under the vault's master key, so a copy of the database alone
 * cannot mint codes; a code's time step is used once (a replayed code fails even inside its 30 s).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Secret as SecretType, TOTP as TotpType } from 'otpauth';
import type { Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import type { Vault } from '../vault/index.ts';
import { AccountError } from './errors.ts';

const PERIOD_S = 30;
const RECOVERY_CODES = 10;
// Base32 without look-alikes: 12 characters ≈ 60 bits, typed from paper.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

export interface Enrolment {
  /** The otpauth:// URI an authenticator app reads (as a QR code or pasted). */
  uri: string;
  /** The secret in Base32, for typing by hand. */
  secret: string;
}

// otpauth is loaded when a second factor is first used, not at every start.
const otp = () => import('otpauth');

async function totpFor(username: string, secret: SecretType, issuer: string): Promise<TotpType> {
  const { TOTP } = await otp();
  return new TOTP({ issuer, label: username, algorithm: 'SHA1', digits: 6, period: PERIOD_S, secret });
}

function hashCode(code: string): string {
  return createHash('sha256').update(code.toLowerCase().replace(/[^a-z0-9]/g, '')).digest('hex');
}

function recoveryCode(): string {
  const bytes = randomBytes(12);
  const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]).join('');
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}`;
}

export class SecondFactors {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly vault: Vault;
  private readonly issuer: string;

  constructor(store: Store, clock: Clock, vault: Vault, issuer = 'Sealgate') {
    this.store = store;
    this.clock = clock;
    this.vault = vault;
    this.issuer = issuer;
  }

  /** Starts (or restarts) enrolment: a new secret, not yet required until `confirm`. */
  async enrol(username: string): Promise<Enrolment> {
    const { Secret } = await otp();
    const secret = new Secret({ size: 20 });
    const sealed = this.vault.seal(Buffer.from(secret.base32, 'utf8')).toString('base64');
    await this.store.db.deleteFrom('user_totp').where('username', '=', username).execute();
    await this.store.db.insertInto('user_totp').values({ username, secret: sealed, enabled_at: null, last_step: null }).execute();
    return { uri: (await totpFor(username, secret, this.issuer)).toString(), secret: secret.base32 };
  }

  /** The enrolment started and not yet confirmed (to show its key again after a mistyped code). */
  async pending(username: string): Promise<Enrolment | undefined> {
    const row = await this.store.db.selectFrom('user_totp').select(['secret', 'enabled_at']).where('username', '=', username).executeTakeFirst();
    if (!row || row.enabled_at != null) return undefined;
    const { Secret } = await otp();
    const secret = Secret.fromBase32(this.vault.open(Buffer.from(row.secret, 'base64')).toString('utf8'));
    return { uri: (await totpFor(username, secret, this.issuer)).toString(), secret: secret.base32 };
  }

  /** Turns an enrolment on once the user shows a code from it; returns fresh recovery codes. */
  async confirm(username: string, code: string): Promise<string[]> {
    const row = await this.store.db.selectFrom('user_totp').selectAll().where('username', '=', username).executeTakeFirst();
    if (!row) throw new AccountError(`${username} has no second factor being set up: run sealgate user totp ${username} enable first`);
    if (!(await this.checkTotp(username, code))) throw new AccountError('that code does not match: check the time on the phone and type the current code');
    await this.store.db.updateTable('user_totp').set({ enabled_at: this.clock.now() }).where('username', '=', username).execute();
    return this.newRecoveryCodes(username);
  }

  async disable(username: string): Promise<boolean> {
    const result = await this.store.db.deleteFrom('user_totp').where('username', '=', username).executeTakeFirst();
    await this.store.db.deleteFrom('user_recovery_codes').where('username', '=', username).execute();
    return Number(result.numDeletedRows) > 0;
  }

  /** True once a second factor is confirmed (then it is required on every interactive login). */
  async isEnabled(username: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('user_totp').select('enabled_at').where('username', '=', username).executeTakeFirst();
    return row?.enabled_at != null;
  }

  /** A TOTP code or an unused recovery code; each is good once. */
  async verify(username: string, code: string): Promise<boolean> {
    const trimmed = code.trim();
    if (/^\d{6}$/.test(trimmed.replace(/\s/g, ''))) return this.checkTotp(username, trimmed.replace(/\s/g, ''));
    return this.useRecoveryCode(username, trimmed);
  }

  async newRecoveryCodes(username: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODES }, recoveryCode);
    const now = this.clock.now();
    await this.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('user_recovery_codes').where('username', '=', username).execute();
      await trx.insertInto('user_recovery_codes').values(codes.map((c) => ({ username, code_hash: hashCode(c), created_at: now, used_at: null }))).execute();
    });
    return codes;
  }

  async recoveryCodesLeft(username: string): Promise<number> {
    const row = await this.store.db.selectFrom('user_recovery_codes').select((eb) => eb.fn.countAll<number>().as('n')).where('username', '=', username).where('used_at', 'is', null).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  private async checkTotp(username: string, code: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('user_totp').select(['secret']).where('username', '=', username).executeTakeFirst();
    if (!row || !/^\d{6}$/.test(code)) return false;
    const { Secret } = await otp();
    const secret = Secret.fromBase32(this.vault.open(Buffer.from(row.secret, 'base64')).toString('utf8'));
    const now = this.clock.now();
    // One step either side: a phone a little off still works (RFC 6238 §5.2).
    const delta = (await totpFor(username, secret, this.issuer)).validate({ token: code, timestamp: now, window: 1 });
    if (delta === null) return false;
    const step = Math.floor(now / 1000 / PERIOD_S) + delta;
    // Claim the step atomically: two parallel logins with one code cannot both pass.
    const claimed = await this.store.db
      .updateTable('user_totp')
      .set({ last_step: step })
      .where('username', '=', username)
      .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
      .executeTakeFirst();
    return Number(claimed.numUpdatedRows) === 1;
  }

  private async useRecoveryCode(username: string, code: string): Promise<boolean> {
    const wanted = hashCode(code);
    const rows = await this.store.db.selectFrom('user_recovery_codes').select('code_hash').where('username', '=', username).where('used_at', 'is', null).execute();
    const match = rows.find((r) => timingSafeEqual(Buffer.from(r.code_hash, 'hex'), Buffer.from(wanted, 'hex')));
    if (!match) return false;
    const used = await this.store.db
      .updateTable('user_recovery_codes')
      .set({ used_at: this.clock.now() })
      .where('username', '=', username)
      .where('code_hash', '=', match.code_hash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(used.numUpdatedRows) === 1;
  }
}
