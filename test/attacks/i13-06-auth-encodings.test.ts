import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 13 "Accounts", attacker's pass: SMTP AUTH spelled every way a client can spell it,
 * against the account lock and the app-password rule, on the real gateway's implicit-TLS
 * submission port, one connection (and one client address) per try.
 * - RFC 4616: `authzid NUL authcid NUL password` asks to act as authzid. Before, the gateway
 *   ignored the authzid and answered 235 as the authcid, so a client asking for bob@ was
 *   silently someone else (and the audit trail said so only after the fact). Now an authzid
 *   other than the user itself is refused, before any password is checked.
 * - Held (pinned here): once an account's failure budget is spent, no spelling of its name
 *   (case, spaces, a trailing dot, fullwidth or other NFKC forms, LOGIN instead of PLAIN, base64
 *   without padding or with the token on its own line) gets the right password in; with a
 *   second factor the main password is refused on SMTP in every spelling, an app password works.
 */
const PASSWORD = 'correct horse battery staple';
const USERS = ['alice@corp.test', 'bob@corp.test', 'dave@corp.test', 'carol@corp.test'];
const LOGIN = { accountMaxFailures: 6, ipMaxFailures: 1000, windowMs: 600_000, freeAttempts: 100, baseDelayMs: 0, maxDelayMs: 0 };
let nextAddress = 10;

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

describe('i13-06 SMTP AUTH encodings against locks and app passwords', () => {
  const rig = gatewayWithSmarthost({ prefix: 'i13-06', users: USERS, password: PASSWORD, cli: 'in-process', config: { login: LOGIN } });

  /** One AUTH on a fresh connection from a fresh client address: the reply line(s). */
  async function auth(...lines: string[]): Promise<string> {
    const client = await RawSmtp.connect(rig.gateway.ports.submissionTls, { implicitTls: true, localAddress: `127.0.1.${nextAddress++}` });
    try {
      expect(await client.command('EHLO client.test')).toMatch(/^250/);
      let reply = '';
      for (const line of lines) reply = await client.command(line);
      return reply;
    } finally {
      client.close();
    }
  }
  const plain = (authzid: string, authcid: string, password: string) => auth(`AUTH PLAIN ${b64(`${authzid}\0${authcid}\0${password}`)}`);

  it('refuses an authorization identity other than the user, and takes the ones that name the user', async () => {
    expect(await plain('bob@corp.test', 'alice@corp.test', PASSWORD)).toMatch(/^535 5\.7\.8 /);
    expect(await plain('BOB@corp.test', 'alice@corp.test', PASSWORD)).toMatch(/^535 5\.7\.8 /);
    expect(await plain('', 'alice@corp.test', PASSWORD)).toMatch(/^235 /);
    expect(await plain('alice@corp.test', 'alice@corp.test', PASSWORD)).toMatch(/^235 /);
    // Clients that put the user in the authzid and leave the authcid empty.
    expect(await plain('alice@corp.test', '', PASSWORD)).toMatch(/^235 /);
  }, 60_000);

  it('no spelling of a locked account name gets the right password in', async () => {
    for (let i = 0; i < LOGIN.accountMaxFailures; i++) expect(await plain('', 'dave@corp.test', `wrong ${i}`)).toMatch(/^535 5\.7\.8 /);
    expect(await plain('', 'dave@corp.test', PASSWORD)).toMatch(/^454 4\.7\.0 Too many failed logins/);
    const spellings = ['DAVE@corp.test', 'Dave@Corp.Test', ' dave@corp.test', 'dave@corp.test ', 'dave@corp.test.', 'ｄａｖｅ@corp.test', 'dave＠corp.test', 'dave@corp.tes\u0074\u200b', 'dave@corp.test\u00a0', 'd\u0061\u0301ve@corp.test'.normalize('NFD')];
    for (const name of spellings) {
      expect(await plain('', name, PASSWORD), JSON.stringify(name)).not.toMatch(/^235/);
      expect(await plain(name, '', PASSWORD), JSON.stringify(name)).not.toMatch(/^235/);
    }
    // Base64 without its padding, the token on a line of its own, LOGIN instead of PLAIN.
    const token = b64('\0dave@corp.test\0' + PASSWORD);
    expect(await auth(`AUTH PLAIN ${token.replace(/=+$/, '')}`)).not.toMatch(/^235/);
    expect(await auth('AUTH PLAIN', token)).toMatch(/^454 4\.7\.0 /);
    expect(await auth('AUTH LOGIN', b64('dave@corp.test'), b64(PASSWORD))).toMatch(/^454 4\.7\.0 /);
    // The bytes of the password as Latin-1 or with a NUL inside are not the password either.
    expect(await auth(`AUTH PLAIN ${b64(Buffer.concat([Buffer.from('\0dave@corp.test\0'), Buffer.from(PASSWORD, 'latin1'), Buffer.from([0xff])]))}`)).not.toMatch(/^235/);
    expect(await auth(`AUTH PLAIN ${b64(`\0dave@corp.test\0${PASSWORD}\0x`)}`)).not.toMatch(/^235/);
    expect(await plain('', 'dave@corp.test', PASSWORD)).toMatch(/^454 4\.7\.0 /);
  }, 120_000);

  it('with a second factor the main password is refused in every spelling; an app password works', async () => {
    const enrol = await rig.gateway.cli('user', 'totp', 'carol@corp.test', 'enable');
    const secret = new URL(/otpauth:\/\/\S+/.exec(enrol.stdout)![0]).searchParams.get('secret')!;
    const code = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();
    expect((await rig.gateway.cli('user', 'totp', 'carol@corp.test', 'confirm', code)).code).toBe(0);
    const { password: app } = JSON.parse((await rig.gateway.cli('user', 'app-password', 'carol@corp.test', 'add', 'client', '--json')).stdout) as { password: string };
    expect(await plain('', 'carol@corp.test', PASSWORD)).toMatch(/^534 5\.7\.9 /);
    expect(await plain('carol@corp.test', '', PASSWORD)).toMatch(/^534 5\.7\.9 /);
    expect(await auth('AUTH LOGIN', b64('carol@corp.test'), b64(PASSWORD))).toMatch(/^534 5\.7\.9 /);
    // The main password with the code appended, as some clients are told to do, is no way round it.
    expect(await plain('', 'carol@corp.test', `${PASSWORD}${code}`)).toMatch(/^535 5\.7\.8 /);
    expect(await plain('', 'carol@corp.test', app)).toMatch(/^235 /);
    expect(await plain('', 'carol@corp.test', app.toUpperCase().replace(/-/g, ' '))).toMatch(/^235 /);
  }, 60_000);
});
