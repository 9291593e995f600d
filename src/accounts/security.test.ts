import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { createVault } from '../vault/index.ts';
import { checkNewPassword } from './password-policy.ts';
import { Users } from './users.ts';

const LIMITS = { accountMaxFailures: 100, ipMaxFailures: 100, windowMs: 60_000, freeAttempts: 100, baseDelayMs: 0, maxDelayMs: 0 };
const PASSWORD = 'correct horse battery';

/** The code an authenticator app would show for this enrolment at `at` (ms). */
function codeAt(secret: string, at: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
}

describe('password policy (NIST SP 800-63B)', () => {
  it('refuses short, breached, user-name and one-character passwords, and nothing for its composition', () => {
    const policy = { minLength: 12 };
    expect(() => checkNewPassword('short', policy)).toThrow(/at least 12 characters/);
    expect(() => checkNewPassword('password1234', policy)).toThrow(/known from breaches/);
    expect(() => checkNewPassword('Qwertyuiop123', policy)).toThrow(/known from breaches/);
    expect(() => checkNewPassword('alice@example.test', policy, 'Alice@Example.test')).toThrow(/user name/);
    expect(() => checkNewPassword('aaaaaaaaaaaaaaa', policy)).toThrow(/repeat one character/);
    expect(() => checkNewPassword('x'.repeat(257) + 'y', policy)).toThrow(/too long/);
    // No composition rules: lower-case words are fine; length counts code points, not bytes.
    expect(() => checkNewPassword('purple staple lantern', policy)).not.toThrow();
    expect(() => checkNewPassword('🔒🔑🗝️🔐🔓🔏🛡️⚔️🏰🗡️', { minLength: 12 })).not.toThrow();
    expect(() => checkNewPassword('ééééééééééé', policy)).toThrow(/at least 12/);
  });
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`roles, second factors, app passwords and locks on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    let now = 1_800_000_000_000;
    const clock = { now: () => now };
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    async function makeUsers(options: { totpRequiredFor?: ('admin' | 'sender' | 'auditor')[] } = {}) {
      current = await openTestStore(dialect);
      const users = new Users(current.store, clock, LIMITS, { vault: createVault(randomBytes(32)), ...options });
      await users.add('alice@example.test', PASSWORD);
      return users;
    }

    it.skipIf(!available)('a new user is a sender; without the sender role no protocol lets them in', async () => {
      const users = await makeUsers();
      expect(await users.roles.of('alice@example.test')).toEqual(['sender']);
      expect(await users.roles.grant('alice@example.test', 'auditor')).toBe(true);
      expect(await users.roles.grant('alice@example.test', 'auditor')).toBe(false);
      await expect(users.roles.grant('alice@example.test', 'root')).rejects.toThrow(/unknown role "root"/);
      expect(await users.roles.revoke('alice@example.test', 'sender')).toBe(true);
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'forbidden', reason: 'no-role' });
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console' })).toEqual({ status: 'forbidden', reason: 'no-role' });
      // A wrong password says nothing about roles.
      expect(await users.login('alice@example.test', 'wrong password!', '127.0.0.1', { protocol: 'console' })).toEqual({ status: 'invalid' });
    });

    it.skipIf(!available)('TOTP: enrolment waits for a confirming code; then the console needs a code, each time step once', async () => {
      const users = await makeUsers();
      const factors = users.secondFactors!;
      const { uri, secret } = await factors.enrol('alice@example.test');
      expect(uri).toMatch(/^otpauth:\/\/totp\/Sealgate:alice%40example\.test\?/);
      // Not yet confirmed: the login works as before.
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console' })).toEqual({ status: 'ok' });
      await expect(factors.confirm('alice@example.test', '000000')).rejects.toThrow(/does not match/);
      const codes = await factors.confirm('alice@example.test', codeAt(secret, now));
      expect(codes).toHaveLength(10);
      // The secret is sealed: the row does not hold it in Base32.
      const row = await current!.store.db.selectFrom('user_totp').select('secret').executeTakeFirstOrThrow();
      expect(row.secret).not.toContain(secret);

      now += 30_000;
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console' })).toEqual({ status: 'second-factor' });
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console', code: '123456' })).toEqual({ status: 'second-factor' });
      const code = codeAt(secret, now);
      // Two parallel logins with one code: exactly one gets in.
      const both = await Promise.all([users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console', code: code }), users.login('alice@example.test', PASSWORD, '127.0.0.2', { protocol: 'console', code: code })]);
      expect(both.map((o) => o.status).sort()).toEqual(['ok', 'second-factor']);
      // A code from the last step (a phone a little behind) passes once; a wrong password with a right code does not.
      now += 30_000;
      expect(await users.login('alice@example.test', 'wrong password!', '127.0.0.1', { protocol: 'console', code: codeAt(secret, now) })).toEqual({ status: 'invalid' });
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console', code: codeAt(secret, now) })).toEqual({ status: 'ok' });

      // A recovery code works once, typed in any case and with or without the dashes.
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console', code: codes[3].toUpperCase().replace(/-/g, '') })).toEqual({ status: 'ok' });
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console', code: codes[3] })).toEqual({ status: 'second-factor' });
      expect(await factors.recoveryCodesLeft('alice@example.test')).toBe(9);
    });

    it.skipIf(!available)('with a second factor SMTP takes only app passwords; app passwords never open the console', async () => {
      const users = await makeUsers();
      const app = await users.appPasswords.add('alice@example.test', 'Thunderbird laptop');
      expect(app.password).toMatch(/^[a-z0-9]{6}(-[a-z0-9]{6}){3}$/);
      expect(await users.login('alice@example.test', app.password, '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'ok' });
      expect(await users.login('alice@example.test', app.password.replace(/-/g, '').toUpperCase(), '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'ok' });
      expect(await users.login('alice@example.test', app.password, '127.0.0.1', { protocol: 'console' })).toEqual({ status: 'invalid' });
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'ok' });

      const { secret } = await users.secondFactors!.enrol('alice@example.test');
      await users.secondFactors!.confirm('alice@example.test', codeAt(secret, now));
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'forbidden', reason: 'app-password-required' });
      expect(await users.login('alice@example.test', app.password, '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'ok' });
      expect((await users.appPasswords.list('alice@example.test'))[0]).toMatchObject({ label: 'Thunderbird laptop', lastUsedAt: now });
      expect(await users.appPasswords.revoke('alice@example.test', 'Thunderbird laptop')).toBe(1);
      expect(await users.login('alice@example.test', app.password, '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'invalid' });
      await expect(users.appPasswords.add('alice@example.test', 'bad\nlabel')).rejects.toThrow(/label/);
    });

    it.skipIf(!available)('a role that requires a second factor keeps its members out until they have one', async () => {
      const users = await makeUsers({ totpRequiredFor: ['sender'] });
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console' })).toEqual({ status: 'forbidden', reason: 'second-factor-required' });
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'forbidden', reason: 'app-password-required' });
      const app = await users.appPasswords.add('alice@example.test', 'phone');
      expect(await users.login('alice@example.test', app.password, '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'ok' });
    });

    it.skipIf(!available)('an admin lock holds on every protocol until unlock, which also lifts the failed-login lock', async () => {
      current = await openTestStore(dialect);
      const users = new Users(current.store, clock, { ...LIMITS, accountMaxFailures: 3, freeAttempts: 3 }, { vault: createVault(randomBytes(32)) });
      await users.add('alice@example.test', PASSWORD);
      await current.store.db.insertInto('web_sessions').values({ id: 'x', kind: 'sender', subject: 'alice@example.test', sealed: null, created_at: now, last_seen_at: now, expires_at: now + 60_000, idle_ms: null, ip: '192.0.2.1', user_agent: 'Firefox' }).execute();
      expect(await users.sessions('alice@example.test')).toEqual([{ createdAt: now, lastSeenAt: now, expiresAt: now + 60_000, ip: '192.0.2.1', userAgent: 'Firefox' }]);
      await users.setLocked('alice@example.test', true);
      expect(await users.sessions('alice@example.test')).toEqual([]);
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'forbidden', reason: 'admin-lock' });
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console' })).toEqual({ status: 'forbidden', reason: 'admin-lock' });
      await users.setLocked('alice@example.test', false);
      for (let i = 0; i < 3; i++) expect(await users.login('alice@example.test', 'wrong password!', '127.0.0.1', { protocol: 'smtp' })).toEqual({ status: 'invalid' });
      expect((await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console' })).status).toBe('locked');
      expect((await users.lockState('alice@example.test')).budgetLockedUntil).toBe(now + LIMITS.windowMs);
      await users.setLocked('alice@example.test', false);
      expect(await users.lockState('alice@example.test')).toEqual({ adminLock: false, budgetLockedUntil: null });
      expect(await users.login('alice@example.test', PASSWORD, '127.0.0.1', { protocol: 'console' })).toEqual({ status: 'ok' });
      await expect(users.setLocked('nobody@example.test', true)).rejects.toThrow(/no user/);
    });
  });
}
