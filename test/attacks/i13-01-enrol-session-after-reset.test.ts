import path from 'node:path';
import Database from 'better-sqlite3';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { httpsClient } from '../helpers/portal-socket.ts';
import { freePort, tempDir, waitForPort } from '../helpers/ports.ts';

/*
 * Issue 13 attack 1: with `login.totpRequiredFor: ["sender"]`, a stolen password of a user who
 * has no second factor yet opens the forced set-up page (an `enrol` session). The admin notices
 * and resets the password (`user passwd`, the documented way to throw someone out) or locks the
 * account; the enrol session outlived both, so the attacker still bound THEIR authenticator to
 * the account and was handed a console session. Over real sockets against the gateway process.
 */

const PASSWORD = 'correct horse battery staple';

describe('a forced second-factor set-up ends with the account password or a lock', () => {
  const tmp = tempDir('sg-i13-01-');
  let gateway: GatewayProcess;
  let webPort: number;
  beforeAll(async () => {
    webPort = await freePort();
    gateway = await startGateway(tmp.dir, { web: { port: webPort }, login: { totpRequiredFor: ['sender'] } });
    await waitForPort('127.0.0.1', webPort);
    const added = await Promise.all(['alice@example.test', 'carol@example.test'].map((user) => gateway.cli('user', 'add', user, '--password', PASSWORD)));
    for (const result of added) expect(result.code, result.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await gateway?.kill();
    tmp.cleanup();
  });

  /** The attacker signs in with the stolen password and reads the key of the forced set-up. */
  async function startSetUp(user: string) {
    const client = httpsClient(webPort);
    await client.request('GET', '/console/login');
    const csrf = client.cookie('__Host-sg-csrf')!;
    const login = await client.request('POST', '/console/login', { _csrf: csrf, username: user, password: PASSWORD });
    expect(login.headers.location).toBe('/console/second-factor');
    const setUp = await client.request('GET', '/console/second-factor');
    expect(setUp.status).toBe(200);
    const secret = /<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(setUp.body)![1];
    const code = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate();
    return { client, confirm: () => client.request('POST', '/console/second-factor', { _csrf: csrf, code }) };
  }

  function factorOn(user: string): boolean {
    const db = new Database(path.join(tmp.dir, 'data', 'sealgate.db'), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT enabled_at FROM user_totp WHERE username = ?').get(user) as { enabled_at: number | null } | undefined;
      return row?.enabled_at != null;
    } finally {
      db.close();
    }
  }

  async function expectRefused(attempt: { client: ReturnType<typeof httpsClient>; confirm: () => ReturnType<ReturnType<typeof httpsClient>['request']> }, user: string) {
    const answer = await attempt.confirm();
    expect(answer.status).toBe(303);
    expect(answer.headers.location).toBe('/console/login');
    expect(answer.body).not.toContain('recovery-codes');
    expect(attempt.client.cookie('__Host-sg-console')).toBeUndefined();
    expect(factorOn(user)).toBe(false);
  }

  it('user passwd: the set-up started with the old password cannot bind a factor or open a session', async () => {
    const attempt = await startSetUp('alice@example.test');
    expect((await gateway.cli('user', 'passwd', 'alice@example.test', '--password', 'another long password')).code).toBe(0);
    await expectRefused(attempt, 'alice@example.test');
  });

  it('user lock: the set-up cannot bind a factor either', async () => {
    const attempt = await startSetUp('carol@example.test');
    expect((await gateway.cli('user', 'lock', 'carol@example.test')).code).toBe(0);
    await expectRefused(attempt, 'carol@example.test');
  });
});
