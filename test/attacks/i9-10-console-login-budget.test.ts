import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Users } from '../../src/accounts/index.ts';
import { createSmtpListener, type SmtpListener } from '../../src/smtp/index.ts';
import { createWebService, type WebService } from '../../src/web/index.ts';
import { createPortalFixture, type PortalFixture } from '../helpers/browser.ts';
import { HttpsClient } from '../helpers/https-client.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

/*
 * Issue 9 item 10: console login brute force was limited per IP only (another IP logged in at
 * once), racily (40 parallel tries → 25 evaluated), in a map cleared after 10k IPs. Now the
 * console spends the login budgets SMTP AUTH spends (per account and per network, in the
 * database): 50 parallel tries from 10 addresses evaluate at most the account's budget, and
 * failures over SMTP lock the console too.
 */
const PASSWORD = 'correct horse battery staple';
const LIMITS = { accountMaxFailures: 5, ipMaxFailures: 12, windowMs: 60_000, freeAttempts: 20, baseDelayMs: 100, maxDelayMs: 500 };

describe('i9-10 console login uses the shared login budgets', () => {
  let fixture: PortalFixture;
  let web: WebService;
  let smtp: SmtpListener;
  let users: Users;

  beforeAll(async () => {
    fixture = await createPortalFixture();
    users = new Users(fixture.store, { now: () => Date.now() }, LIMITS);
    for (const user of ['alice@example.test', 'bob@example.test', 'carol@example.test']) await users.add(user, PASSWORD);
    web = createWebService({ ...fixture.deps, users });
    await web.start();
    smtp = createSmtpListener(
      {
        role: 'submission', host: '127.0.0.1', port: 0, implicitTls: true, tls: fixture.deps.tls, hostname: 'mx.sealgate.test', localDomains: [],
        limits: { ...fixture.deps.config.limits, maxConnectionsPerIp: 100 },
      },
      { logger: silentLogger, clock: { now: () => Date.now() }, login: (u, p, ip) => users.login(u, p, ip), ingest: async () => ({ id: 'x' }) },
    );
    await smtp.start();
  });

  afterAll(async () => {
    await smtp?.stop();
    await web?.stop();
    await fixture?.cleanup();
  });

  async function loginForm(client: HttpsClient): Promise<string> {
    const page = await client.request('GET', '/console/login');
    expect(page.status).toBe(200);
    return HttpsClient.csrfOf(page.body);
  }

  it('50 parallel tries from 10 addresses evaluate at most the account budget; the lock holds for the right password', async () => {
    const client = new HttpsClient(web.listening().port);
    const csrf = await loginForm(client);
    const tries = Array.from({ length: 50 }, (_, i) =>
      client.request('POST', '/console/login', { localAddress: `127.0.0.${2 + (i % 10)}`, form: { _csrf: csrf, username: 'alice@example.test', password: `wrong ${i}` } }));
    const answers = await Promise.all(tries);
    const evaluated = answers.filter((a) => a.status === 401);
    const refused = answers.filter((a) => a.status === 429);
    expect(evaluated.length).toBeLessThanOrEqual(5);
    expect(evaluated.length + refused.length).toBe(50);
    expect(refused[0].body).toMatch(/Too many failed logins for this account or from your network\. Wait \d+ (seconds|minutes) and try again\./);
    expect(Number(refused[0].headers['retry-after'])).toBeGreaterThan(0);
    const right = await client.request('POST', '/console/login', { localAddress: '127.0.0.40', form: { _csrf: csrf, username: 'alice@example.test', password: PASSWORD } });
    expect(right.status).toBe(429);
    // Another account from a fresh address logs in.
    const bob = await client.request('POST', '/console/login', { localAddress: '127.0.0.41', form: { _csrf: csrf, username: 'bob@example.test', password: PASSWORD } });
    expect(bob.status).toBe(303);
    // The budget lives in the database (a cluster shares it), keyed by network and account.
    const keys = (await fixture.store.db.selectFrom('login_budgets').select('key').execute()).map((r) => r.key);
    expect(keys).toEqual(expect.arrayContaining(['account:alice@example.test', 'ip:127.0.0.2', 'ip:127.0.0.11']));
  });

  it('failures over SMTP AUTH lock the console login of the same account', async () => {
    const plain = (password: string) => Buffer.from(`\0carol@example.test\0${password}`).toString('base64');
    const replies: string[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await RawSmtp.connect(smtp.address().port, { implicitTls: true, localAddress: `127.0.0.${50 + i}` });
      await c.command('EHLO attacker.test');
      replies.push(await c.command(`AUTH PLAIN ${plain(`wrong ${i}`)}`));
      c.close();
    }
    expect(replies.slice(0, 5).every((r) => r.startsWith('535 5.7.8 '))).toBe(true);
    expect(replies[5]).toMatch(/^454 4\.7\.0 /);
    const client = new HttpsClient(web.listening().port);
    const csrf = await loginForm(client);
    const right = await client.request('POST', '/console/login', { localAddress: '127.0.0.60', form: { _csrf: csrf, username: 'carol@example.test', password: PASSWORD } });
    expect(right.status).toBe(429);
  });
});
