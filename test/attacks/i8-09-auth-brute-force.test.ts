import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { tempDir } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 8 item 9: AUTH brute force. Failures were counted per session only (636 guesses in 8 s
 * against one account). Now every guess reserves an attempt on the account and on the client's
 * network in the database before Argon2 runs: 50 parallel guesses from 10 addresses evaluate at
 * most the account's budget, the rest get 454 4.7.0, and the lock holds for the right password.
 */
const PASSWORD = 'correct horse battery staple';
const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString('base64');

describe('i8-09 AUTH brute force hits the shared login budget', () => {
  const temp = tempDir('i8-09');
  let gateway: GatewayProcess;

  beforeAll(async () => {
    gateway = await startGateway(temp.dir, {
      login: { accountMaxFailures: 5, ipMaxFailures: 12, windowMs: 60_000, freeAttempts: 20, baseDelayMs: 100, maxDelayMs: 500 },
      limits: { maxConnectionsPerIp: 200 },
    });
    for (const user of ['alice@example.test', 'bob@example.test']) {
      const added = await gateway.cli('user', 'add', user, '--password', PASSWORD);
      expect(added.code, added.stderr).toBe(0);
    }
  }, 60_000);

  afterAll(async () => {
    await gateway?.kill();
    temp.cleanup();
  });

  async function auth(localAddress: string, user: string, password: string): Promise<string> {
    const client = await RawSmtp.connect(gateway.ports.submissionTls, { implicitTls: true, localAddress });
    try {
      await client.command('EHLO attacker.test');
      return await client.command(`AUTH PLAIN ${plain(user, password)}`);
    } finally {
      client.close();
    }
  }

  it('50 parallel guesses from 10 addresses: at most the budget is evaluated, then 454 4.7.0', async () => {
    const guesses = Array.from({ length: 50 }, (_, i) => auth(`127.0.0.${2 + (i % 10)}`, 'alice@example.test', `wrong guess ${i}`));
    const replies = await Promise.all(guesses);
    const evaluated = replies.filter((r) => r.startsWith('535 5.7.8 '));
    const refused = replies.filter((r) => r.startsWith('454 4.7.0 '));
    expect(evaluated.length).toBeLessThanOrEqual(5);
    expect(evaluated.length + refused.length).toBe(50);
    expect(refused[0]).toMatch(/Too many failed logins for this account or from your network; try again in \d+ (seconds|minutes)/);
    // The lock is temporary and holds even for the right password, from a fresh address.
    expect(await auth('127.0.0.20', 'alice@example.test', PASSWORD)).toMatch(/^454 4\.7\.0 /);
    // Another account is not locked by alice's attacker.
    expect(await auth('127.0.0.21', 'bob@example.test', PASSWORD)).toMatch(/^235 /);
  });

  it('one network guessing many accounts (existing or not) runs out of its own budget', async () => {
    const replies: string[] = [];
    for (let i = 0; i < 14; i++) replies.push(await auth('127.0.0.30', `nobody${i}@example.test`, 'wrong guess'));
    expect(replies.slice(0, 12).every((r) => r.startsWith('535 5.7.8 '))).toBe(true);
    expect(replies.slice(12).every((r) => r.startsWith('454 4.7.0 '))).toBe(true);
    expect(await auth('127.0.0.30', 'bob@example.test', PASSWORD)).toMatch(/^454 4\.7\.0 /);
    expect(await auth('127.0.0.31', 'bob@example.test', PASSWORD)).toMatch(/^235 /);
    expect(gateway.output()).not.toContain(PASSWORD);
  });
});
