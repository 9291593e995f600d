import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { HttpsClient } from '../helpers/https-client.ts';
import { freePort } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 13 "Accounts" ("account lock after repeated failures on any protocol, with unlock by
 * an admin"), attacker's pass: the failed-login lock lifted itself when its window ended, so
 * a patient guesser got `accountMaxFailures` tries every `windowMs` for ever: 960 a day with
 * the defaults, enough to find a 6-digit TOTP code (3 of 10^6 valid at a time) within about a
 * year once the password is known, and NIST SP 800-63B §5.2.2 allows at most 100 consecutive
 * failures on an account. Now `login.accountLockAfter` (100) consecutive failures, across
 * windows and protocols, lock the account until an admin unlocks it; a success resets the
 * count. A right password refused for a standing reason (a mail client still on the main
 * password after a second factor came on: 534) is no guess and does not count; a wrong TOTP
 * code does. Played here with the window at its shortest (1 s) and the default 100.
 */
const PASSWORD = 'correct horse battery staple';
const USER = 'frank@corp.test';
const LOGIN = { accountMaxFailures: 10, ipMaxFailures: 100_000, windowMs: 1000, freeAttempts: 10, baseDelayMs: 0, maxDelayMs: 0 };
const WEB_PORT = await freePort();
let address = 0;

describe('i13-14 failed logins across windows', () => {
  const rig = gatewayWithSmarthost({ prefix: 'i13-14', users: [USER, 'grace@corp.test', 'ivy@corp.test'], password: PASSWORD, cli: 'in-process', config: { login: LOGIN, web: { port: WEB_PORT } } });

  async function auth(user: string, password: string): Promise<string> {
    const n = address++;
    const client = await RawSmtp.connect(rig.gateway.ports.submissionTls, { implicitTls: true, localAddress: `127.0.${6 + Math.floor(n / 200)}.${10 + (n % 200)}` });
    try {
      await client.command('EHLO client.test');
      return await client.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`);
    } finally {
      client.close();
    }
  }
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('100 consecutive failures lock the account until an admin unlocks it; a success resets the count', async () => {
    // 99 failures, then the right password: the count starts again.
    let failures = 0;
    async function fail(user: string, until: number): Promise<void> {
      while (failures < until) {
        const reply = await auth(user, `guess ${failures}`);
        if (reply.startsWith('535')) failures++;
        else if (reply.startsWith('454')) await pause(250); // the window's budget is spent: wait for the next
        else throw new Error(`unexpected reply ${reply}`);
      }
    }
    await fail('grace@corp.test', 99);
    await pause(1100);
    expect(await auth('grace@corp.test', PASSWORD)).toMatch(/^235 /);
    failures = 0;
    await fail('grace@corp.test', 2);
    await pause(1100);
    expect(await auth('grace@corp.test', PASSWORD)).toMatch(/^235 /);

    // 100 times the main password of an account with a second factor (534), then its app password.
    const enrol = await rig.gateway.cli('user', 'totp', 'ivy@corp.test', 'enable');
    const secret = new URL(/otpauth:\/\/\S+/.exec(enrol.stdout)![0]).searchParams.get('secret')!;
    const code = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();
    expect((await rig.gateway.cli('user', 'totp', 'ivy@corp.test', 'confirm', code)).code).toBe(0);
    const { password: app } = JSON.parse((await rig.gateway.cli('user', 'app-password', 'ivy@corp.test', 'add', 'client', '--json')).stdout) as { password: string };
    for (let refused = 0; refused < 100;) {
      const reply = await auth('ivy@corp.test', PASSWORD);
      if (reply.startsWith('534')) refused++;
      else if (reply.startsWith('454')) await pause(250);
      else throw new Error(`unexpected reply ${reply}`);
    }
    await pause(1100);
    expect(await auth('ivy@corp.test', app)).toMatch(/^235 /);

    failures = 0;
    await fail(USER, 100);
    await pause(1100); // the window is over: before, this was a fresh budget
    expect(await auth(USER, PASSWORD)).toMatch(/^535 5\.7\.8 This account is locked after too many failed logins/);
    await pause(1100);
    expect(await auth(USER, PASSWORD)).toMatch(/^535 5\.7\.8 /);
    const web = new HttpsClient(WEB_PORT);
    const csrf = HttpsClient.csrfOf((await web.request('GET', '/console/login')).body);
    const page = await web.request('POST', '/console/login', { localAddress: '127.0.9.9', form: { _csrf: csrf, username: USER, password: PASSWORD } });
    expect(page.status).toBe(403);
    expect(page.body).toContain('locked after too many failed logins');
    const state = await rig.gateway.cli('user', 'unlock', USER);
    expect(state.stdout).toMatch(/the failed-login lock is lifted too/);
    expect(await auth(USER, PASSWORD)).toMatch(/^235 /);
  }, 180_000);
});
