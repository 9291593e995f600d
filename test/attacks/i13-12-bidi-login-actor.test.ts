import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { HttpsClient } from '../helpers/https-client.ts';
import { freePort } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 13 "Audit log", attacker's pass: the user name of a failed login is the one
 * attacker-chosen text that becomes an audit actor (MAIL FROM is refused at the door when it
 * holds bidi controls or invisible characters; AUTH and the console login form are not).
 * `\u202Etset.proc@ecila` is shown by every bidi-aware viewer (a spreadsheet opening the CSV
 * export, a terminal running `audit list`) as "alice@corp.test": before, the event was written
 * with it, so an attacker's guesses read as alice's own failed logins. The admin console's
 * page stripped the controls; the record and its exports did not. Now such a name is recorded
 * as "(not an address)", as any other text that is not an address.
 */
const PASSWORD = 'correct horse battery staple';
const WEB_PORT = await freePort();
const SPOOFS = ['\u202etset.proc@ecila', 'alice@corp.test\u200b', 'al\u2066ice@corp.test', 'alice\u00ad@corp.test', 'alice@corp.test\ufeff', '\u061calice@corp.test'];

describe('i13-12 a login user name with bidi controls or invisible characters in the audit trail', () => {
  const rig = gatewayWithSmarthost({ prefix: 'i13-12', users: ['alice@corp.test'], password: PASSWORD, cli: 'in-process', config: { web: { port: WEB_PORT } } });

  it('is never written as an actor, whichever protocol it came by', async () => {
    let address = 10;
    for (const name of SPOOFS) {
      const client = await RawSmtp.connect(rig.gateway.ports.submissionTls, { implicitTls: true, localAddress: `127.0.5.${address++}` });
      await client.command('EHLO client.test');
      expect(await client.command(`AUTH PLAIN ${Buffer.from(`\0${name}\0wrong password`).toString('base64')}`)).toMatch(/^535 /);
      client.close();
    }
    const web = new HttpsClient(WEB_PORT);
    for (const path of ['/console/login', '/admin/login']) {
      const csrf = HttpsClient.csrfOf((await web.request('GET', path)).body);
      for (const name of SPOOFS) {
        expect((await web.request('POST', path, { localAddress: `127.0.5.${address++}`, form: { _csrf: csrf, username: name, password: 'wrong password' } })).status).toBe(401);
      }
    }
    const events = JSON.parse((await rig.gateway.cli('audit', 'list', '--action', 'login', '--json')).stdout) as { actor: string; protocol: string }[];
    expect(events).toHaveLength(3 * SPOOFS.length);
    expect(events.filter((e) => /[\p{Cf}\u00ad]/u.test(e.actor)).map((e) => `${e.protocol}: ${JSON.stringify(e.actor)}`)).toEqual([]);
    // The console trims the name first (a BOM is white space to it): that one is alice's own failure.
    expect(new Set(events.map((e) => e.actor))).toEqual(new Set(['(not an address)', 'alice@corp.test']));
    expect(events.filter((e) => e.actor === 'alice@corp.test').every((e) => e.protocol !== 'smtp')).toBe(true);
    const csv = (await rig.gateway.cli('audit', 'export', '--format', 'csv')).stdout;
    expect(csv).not.toMatch(/[\u202a-\u202e\u2066-\u2069\u200b\ufeff\u061c]/);
  }, 120_000);
});
