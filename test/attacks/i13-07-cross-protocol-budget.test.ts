import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { HttpsClient } from '../helpers/https-client.ts';
import { freePort, until } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 13 "Accounts", attacker's pass: one account's failure budget is one budget across
 * protocols, also when the guesses come at once. 20 SMTP AUTH tries (raw sockets, implicit
 * TLS), 20 sender-console and 20 admin-console logins (real HTTPS), all in parallel and each
 * from its own address, against the real gateway: at most `login.accountMaxFailures` are
 * checked in total, the rest are told to wait, and the right password is then refused on all
 * three. Every try is in the audit chain under the protocol it came by: before, the admin
 * console's logins were recorded as `console`, the sender console's, so an auditor could not
 * tell guesses at the admin console from a sender mistyping (the admin console's other events
 * say `admin-console`).
 */
const PASSWORD = 'correct horse battery staple';
const USER = 'erin@corp.test';
const MAX = 8;
const LOGIN = { accountMaxFailures: MAX, ipMaxFailures: 1000, windowMs: 600_000, freeAttempts: 100, baseDelayMs: 0, maxDelayMs: 0 };
const WEB_PORT = await freePort();
const PER_PROTOCOL = 20;

describe('i13-07 parallel failed logins over SMTP, the console and the admin console share one budget', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i13-07', users: [USER], password: PASSWORD, cli: 'in-process',
    config: { login: LOGIN, web: { port: WEB_PORT, maxConnectionsPerIp: 100 }, limits: { maxConnectionsPerIp: 100 } },
    setup: async (gateway) => void expect((await gateway.cli('user', 'role', USER, 'add', 'admin')).code).toBe(0),
  });

  async function smtpTry(address: string, password: string): Promise<string> {
    const client = await RawSmtp.connect(rig.gateway.ports.submissionTls, { implicitTls: true, localAddress: address });
    try {
      await client.command('EHLO client.test');
      return await client.command(`AUTH PLAIN ${Buffer.from(`\0${USER}\0${password}`).toString('base64')}`);
    } finally {
      client.close();
    }
  }

  it('checks at most the account budget in total, refuses the rest and then the right password everywhere', async () => {
    const consoleClient = new HttpsClient(WEB_PORT);
    const adminClient = new HttpsClient(WEB_PORT);
    const consoleCsrf = HttpsClient.csrfOf((await consoleClient.request('GET', '/console/login')).body);
    const adminCsrf = HttpsClient.csrfOf((await adminClient.request('GET', '/admin/login')).body);
    const web = (client: HttpsClient, path: string, csrf: string, address: string, password: string) =>
      client.request('POST', path, { localAddress: address, form: { _csrf: csrf, username: USER, password } }).then((a) => a.status);

    const tries = Array.from({ length: PER_PROTOCOL }, (_, i) => [
      smtpTry(`127.0.2.${10 + i}`, `wrong smtp ${i}`).then((reply) => reply.slice(0, 3)),
      web(consoleClient, '/console/login', consoleCsrf, `127.0.3.${10 + i}`, `wrong console ${i}`).then(String),
      web(adminClient, '/admin/login', adminCsrf, `127.0.4.${10 + i}`, `wrong admin ${i}`).then(String),
    ]).flat();
    const answers = await Promise.all(tries);
    const smtp = answers.filter((_, i) => i % 3 === 0);
    const consoleAnswers = answers.filter((_, i) => i % 3 === 1);
    const admin = answers.filter((_, i) => i % 3 === 2);
    const checked = smtp.filter((a) => a === '535').length + consoleAnswers.filter((a) => a === '401').length + admin.filter((a) => a === '401').length;
    const refused = smtp.filter((a) => a === '454').length + consoleAnswers.filter((a) => a === '429').length + admin.filter((a) => a === '429').length;
    expect(checked, `answers: smtp ${smtp.join(' ')} | console ${consoleAnswers.join(' ')} | admin ${admin.join(' ')}`).toBeLessThanOrEqual(MAX);
    expect(checked + refused).toBe(3 * PER_PROTOCOL);

    expect((await smtpTry('127.0.2.200', PASSWORD)).slice(0, 3)).toBe('454');
    expect(await web(consoleClient, '/console/login', consoleCsrf, '127.0.3.200', PASSWORD)).toBe(429);
    expect(await web(adminClient, '/admin/login', adminCsrf, '127.0.4.200', PASSWORD)).toBe(429);

    // Every try is an audit event, under the protocol it came by.
    type Event = { action: string; actor: string; protocol: string; ip: string };
    let events: Event[] = [];
    await until(async () => {
      events = (JSON.parse((await rig.gateway.cli('audit', 'list', '--action', 'login', '--json')).stdout) as Event[]).filter((e) => e.actor === USER);
      return events.length >= 3 * PER_PROTOCOL + 3;
    }, 20_000, 'the login events written');
    const byProtocol = (protocol: string) => events.filter((e) => e.protocol === protocol);
    expect(byProtocol('smtp').every((e) => e.ip.startsWith('127.0.2.'))).toBe(true);
    expect(byProtocol('console').map((e) => e.ip).filter((ip) => !ip.startsWith('127.0.3.'))).toEqual([]);
    expect(byProtocol('admin-console').map((e) => e.ip).filter((ip) => !ip.startsWith('127.0.4.'))).toEqual([]);
    expect([byProtocol('smtp').length, byProtocol('console').length, byProtocol('admin-console').length]).toEqual([PER_PROTOCOL + 1, PER_PROTOCOL + 1, PER_PROTOCOL + 1]);
    expect(events.filter((e) => e.action === 'login.failed')).toHaveLength(checked);
  }, 120_000);
});
