/**
 * Accounts as an admin runs them (issue 13 "Accounts"): roles, a TOTP second factor set up
 * from the CLI and confirmed with a code an authenticator would show, app passwords for
 * swaks (a real mail client), an admin lock — each change an audit event.
 */
import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../../helpers/attack-rig.ts';
import { hasBinary } from '../../helpers/peers.ts';
import { runSwaks, serverReplies } from '../../helpers/swaks.ts';
import { until } from '../../helpers/ports.ts';

const PASSWORD = 'correct horse battery staple';

describe.skipIf(!hasBinary('swaks'))('user role, totp, app-password, lock through the CLI and swaks', () => {
  const rig = gatewayWithSmarthost({ prefix: 'user-sec', users: ['alice@corp.test'], password: PASSWORD, cli: 'in-process' });
  const send = (password: string) =>
    runSwaks(['--server', `127.0.0.1:${rig.gateway.ports.submission}`, '-tls', '--auth', 'PLAIN', '--auth-user', 'alice@corp.test', '--auth-password', password, '--from', 'alice@corp.test', '--to', 'bob@corp.test']);

  it('refuses a breached password at user add, with the rule in words', async () => {
    const result = await rig.gateway.cli('user', 'add', 'carol@corp.test', '--password', 'password1234');
    expect(result.code).toBe(65);
    expect(result.stderr).toMatch(/known from breaches/);
  });

  it('a second factor moves SMTP to app passwords; a lock stops every login; the audit names each change', async () => {
    expect((await send(PASSWORD)).code).toBe(0);

    const roles = await rig.gateway.cli('user', 'role', 'alice@corp.test', 'add', 'auditor', '--json');
    expect(JSON.parse(roles.stdout)).toEqual({ user: 'alice@corp.test', roles: ['auditor', 'sender'], changed: true });

    const enrol = await rig.gateway.cli('user', 'totp', 'alice@corp.test', 'enable');
    expect(enrol.code, enrol.stderr).toBe(0);
    const uri = /otpauth:\/\/\S+/.exec(enrol.stdout)![0];
    const secret = new URL(uri).searchParams.get('secret')!;
    const code = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();
    const confirmed = await rig.gateway.cli('user', 'totp', 'alice@corp.test', 'confirm', code);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(confirmed.stdout.match(/^ {2}[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/gm)).toHaveLength(10);

    const refused = await send(PASSWORD);
    expect(refused.code).not.toBe(0);
    expect(serverReplies(refused.stdout + refused.stderr).join('\n')).toMatch(/^534 5\.7\.9 This account has a second factor: use an app password/m);

    const app = await rig.gateway.cli('user', 'app-password', 'alice@corp.test', 'add', 'swaks', 'test', '--json');
    const { password: appPassword } = JSON.parse(app.stdout) as { password: string };
    expect((await send(appPassword)).code).toBe(0);
    await until(() => rig.rx.transactions().length === 2, 20_000, 'both messages relayed');

    expect((await rig.gateway.cli('user', 'lock', 'alice@corp.test')).code).toBe(0);
    const locked = await send(appPassword);
    expect(serverReplies(locked.stdout + locked.stderr).join('\n')).toMatch(/^535 5\.7\.8 This account is locked by an administrator/m);
    expect((await rig.gateway.cli('user', 'unlock', 'alice@corp.test')).code).toBe(0);
    expect((await send(appPassword)).code).toBe(0);

    const events = JSON.parse((await rig.gateway.cli('audit', 'list', '--action', 'user', '--json')).stdout) as { action: string; target: string; detail: Record<string, unknown> }[];
    expect(events.map((e) => e.action)).toEqual(['user.role.add', 'user.totp.enrol', 'user.totp.enable', 'user.app-password.add', 'user.lock', 'user.unlock']);
    expect(events[0].detail).toEqual({ role: 'auditor', before: ['sender'], after: ['auditor', 'sender'] });
    const all = (await rig.gateway.cli('audit', 'list', '--json')).stdout;
    expect(all).not.toContain(appPassword);
    expect(all).not.toContain(secret);
    expect(all).toMatch(/"reason": ?"app-password-required"/);
  }, 120_000);
});
