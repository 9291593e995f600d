/**
 * `sealgate user role|totp|lock|unlock|app-password …`: roles, second factors, locks and app
 * passwords (issue 13). Every change is an audit event naming the admin (who, what, before, after).
 */
import type { AuditLog } from '../audit/index.ts';
import { ROLES, type Users } from '../accounts/index.ts';
import { adminActor } from './admin-actor.ts';
import type { Command, CommandContext } from './command.ts';
import { CliError, EX, UsageError } from './exit.ts';
import { out, outJson } from './output.ts';
import { withRuntime } from './with-runtime.ts';

type Audit = Pick<AuditLog, 'record'>;

async function record(audit: Audit, action: string, target: string, detail: Record<string, unknown>): Promise<void> {
  await audit.record({ actor: adminActor(), action, target, protocol: 'cli', detail });
}

async function requireUser(users: Users, name: string): Promise<void> {
  if (!(await users.list()).some((u) => u.username === name)) throw new CliError(EX.noInput, `no user ${name} (sealgate user list shows them)`);
}

function factorsOf(users: Users) {
  if (!users.secondFactors) throw new CliError(EX.software, 'second factors need the vault (the master key); run this with the gateway\'s config');
  return users.secondFactors;
}

async function role(ctx: CommandContext): Promise<number> {
  const [name, verb, which] = ctx.args;
  return withRuntime(ctx.config, ctx.deps, async ({ users, audit }) => {
    await requireUser(users, name);
    const before = await users.roles.of(name);
    if (verb === undefined) {
      if (ctx.json) outJson({ user: name, roles: before });
      else out(`${name}: ${before.length ? before.join(', ') : 'no roles (cannot send or sign in)'}`);
      return EX.ok;
    }
    if ((verb !== 'add' && verb !== 'remove') || !which) throw new UsageError(`user role takes NAME [add|remove ROLE] (roles: ${ROLES.join(', ')})`);
    const changed = verb === 'add' ? await users.roles.grant(name, which) : await users.roles.revoke(name, which);
    const after = await users.roles.of(name);
    if (changed) await record(audit, `user.role.${verb}`, name, { role: which, before, after });
    if (ctx.json) outJson({ user: name, roles: after, changed });
    else out(`${name}: ${after.length ? after.join(', ') : 'no roles'}${changed ? '' : ' (unchanged)'}`);
    return EX.ok;
  });
}

async function totp(ctx: CommandContext): Promise<number> {
  const [name, verb, code] = ctx.args;
  return withRuntime(ctx.config, ctx.deps, async ({ users, audit }) => {
    await requireUser(users, name);
    const factors = factorsOf(users);
    switch (verb) {
      case 'enable': {
        const enrolment = await factors.enrol(name);
        out(`Add this to ${name}'s authenticator app (scan it as a QR code or paste it):\n  ${enrolment.uri}\nor type the key by hand: ${enrolment.secret}\n` +
          `Then confirm with the code the app shows: sealgate user totp ${name} confirm CODE\n(until confirmed, ${name} signs in as before)`);
        await record(audit, 'user.totp.enrol', name, {});
        return EX.ok;
      }
      case 'confirm': {
        if (!code) throw new UsageError('user totp NAME confirm CODE');
        const codes = await factors.confirm(name, code);
        // Mail clients must switch to app passwords now: their sessions with the old password end.
        await users.endSessions(name);
        await record(audit, 'user.totp.enable', name, { before: 'off', after: 'on' });
        out(`second factor on for ${name}. Recovery codes (each works once; shown only now, keep them offline):\n${codes.map((c) => `  ${c}`).join('\n')}\n` +
          `SMTP AUTH now takes only app passwords: sealgate user app-password ${name} add LABEL`);
        return EX.ok;
      }
      case 'disable': {
        const removed = await factors.disable(name);
        if (removed) await record(audit, 'user.totp.disable', name, { before: 'on', after: 'off' });
        out(removed ? `second factor removed for ${name}` : `${name} had no second factor`);
        return EX.ok;
      }
      case 'recovery-codes': {
        if (!(await factors.isEnabled(name))) throw new CliError(EX.data, `${name} has no second factor: recovery codes come with sealgate user totp ${name} confirm`);
        const codes = await factors.newRecoveryCodes(name);
        await record(audit, 'user.totp.recovery-codes', name, {});
        out(`new recovery codes for ${name} (the old ones no longer work):\n${codes.map((c) => `  ${c}`).join('\n')}`);
        return EX.ok;
      }
      case 'status':
      case undefined: {
        const enabled = await factors.isEnabled(name);
        const left = enabled ? await factors.recoveryCodesLeft(name) : 0;
        if (ctx.json) outJson({ user: name, enabled, recoveryCodesLeft: left });
        else out(enabled ? `${name}: second factor on, ${left} recovery code${left === 1 ? '' : 's'} left` : `${name}: no second factor`);
        return EX.ok;
      }
      default:
        throw new UsageError('user totp NAME [status|enable|confirm CODE|disable|recovery-codes]');
    }
  });
}

async function lock(ctx: CommandContext, locked: boolean): Promise<number> {
  const [name] = ctx.args;
  return withRuntime(ctx.config, ctx.deps, async ({ users, audit }) => {
    const before = await users.lockState(name);
    await users.setLocked(name, locked);
    await record(audit, locked ? 'user.lock' : 'user.unlock', name, { before, after: await users.lockState(name) });
    out(locked ? `${name} is locked: no login on any protocol, console sessions ended (sealgate user unlock ${name} lifts it)` : `${name} is unlocked${before.budgetLockedUntil ? ' (the failed-login lock is lifted too)' : ''}`);
    return EX.ok;
  });
}

async function appPassword(ctx: CommandContext): Promise<number> {
  const [name, verb, ...rest] = ctx.args;
  return withRuntime(ctx.config, ctx.deps, async ({ users, audit }) => {
    await requireUser(users, name);
    if (verb === 'add') {
      const label = rest.join(' ');
      if (!label) throw new UsageError('user app-password NAME add LABEL (e.g. "Thunderbird laptop")');
      const created = await users.appPasswords.add(name, label);
      await record(audit, 'user.app-password.add', name, { id: created.id, label });
      if (ctx.json) outJson({ user: name, id: created.id, label, password: created.password });
      else out(`app password "${label}" for ${name} (SMTP AUTH only; shown once, stored as an Argon2id hash):\n  ${created.password}`);
      return EX.ok;
    }
    if (verb === 'revoke') {
      const which = rest.join(' ');
      if (!which) throw new UsageError('user app-password NAME revoke ID|LABEL');
      const removed = await users.appPasswords.revoke(name, which);
      if (!removed) throw new CliError(EX.noInput, `${name} has no app password ${JSON.stringify(which)} (sealgate user app-password ${name} list)`);
      await record(audit, 'user.app-password.revoke', name, { which, removed });
      out(`revoked ${removed} app password${removed === 1 ? '' : 's'} of ${name}`);
      return EX.ok;
    }
    if (verb !== 'list' && verb !== undefined) throw new UsageError('user app-password NAME [list|add LABEL|revoke ID|LABEL]');
    const list = await users.appPasswords.list(name);
    if (ctx.json) outJson(list);
    else out(list.length ? list.map((p) => `${p.id}  ${p.label}  created ${new Date(p.createdAt).toISOString()}  ${p.lastUsedAt ? `last used ${new Date(p.lastUsedAt).toISOString()}` : 'never used'}`).join('\n') : `${name} has no app passwords`);
    return EX.ok;
  });
}

async function sessions(ctx: CommandContext): Promise<number> {
  const [name] = ctx.args;
  return withRuntime(ctx.config, ctx.deps, async ({ users, audit }) => {
    await requireUser(users, name);
    const list = await users.sessions(name);
    if (ctx.options.end) {
      await users.endSessions(name);
      await record(audit, 'user.sessions.end', name, { ended: list.length });
      out(`ended ${list.length} console session${list.length === 1 ? '' : 's'} of ${name}`);
      return EX.ok;
    }
    if (ctx.json) outJson(list);
    else out(list.length ? list.map((s) => `${new Date(s.createdAt).toISOString()}  last seen ${new Date(s.lastSeenAt).toISOString()}  ${s.ip ?? '?'}  ${s.userAgent ?? '?'}`).join('\n') : `${name} has no console sessions`);
    return EX.ok;
  });
}

export const userSecurityCommands: Command[] = [
  { name: 'user role', usage: `NAME [add|remove ROLE]`, summary: `show or change a user's roles (${ROLES.join(', ')})`, json: true, args: { min: 1, max: 3 }, run: role },
  { name: 'user totp', usage: 'NAME [status|enable|confirm CODE|disable|recovery-codes]', summary: 'set up, confirm or remove a TOTP second factor; new recovery codes', json: true, args: { min: 1, max: 3 }, run: totp },
  { name: 'user lock', usage: 'NAME', summary: 'lock an account: no login on any protocol, console sessions end', args: { min: 1, max: 1 }, run: (ctx) => lock(ctx, true) },
  { name: 'user unlock', usage: 'NAME', summary: 'lift an admin lock and the failed-login lock', args: { min: 1, max: 1 }, run: (ctx) => lock(ctx, false) },
  { name: 'user sessions', usage: 'NAME [--end]', summary: "a user's console sessions (where, with what, when); --end signs them out everywhere", options: { end: { type: 'boolean', help: 'end every session of the user' } }, json: true, args: { min: 1, max: 1 }, run: sessions },
  { name: 'user app-password', usage: 'NAME [list|add LABEL|revoke ID|LABEL]', summary: 'app passwords for mail clients (SMTP AUTH only)', json: true, args: { min: 1, max: 10 }, run: appPassword },
];
