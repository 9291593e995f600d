import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { HttpsClient } from '../helpers/https-client.ts';
import { freePort, until } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 13 "Admin console", attacker's pass (held, pinned end to end): a stranger's envelope
 * reaches the admin console through the audit trail (`message.received` names the MAIL FROM
 * as actor), the queue view and, via the smarthost's deferral reply, `message.deferred`.
 * Sent over the real MX port: quotes that would end an attribute in a quoted local part (MAIL
 * FROM takes no < > or space), markup in HELO and in the remote's reply, and spreadsheet formulas in a local part. The audit and queue pages show them only
 * escaped, and no CSV cell of the export starts with = + - @ TAB or CR.
 */
const PASSWORD = 'correct horse battery staple';
const ADMIN = 'boss@corp.test';
const WEB_PORT = await freePort();
// smtp-server allows no < > or space in MAIL FROM: quotes that would end an attribute instead.
const MARKUP_FROM = `"\\"'onfocus=alert(1)//"@evil.test`;
const FORMULA_FROM = "=cmd|'/Ccalc'!A0@evil.test";
const PLUS_FROM = "-1+1+cmd|'/Ccalc'!A0@evil.test";
const REMOTE_REPLY = '451 4.3.0 <img src=y onerror=alert(3)> =HYPERLINK("http://evil.test")';

/** RFC 4180 fields of one CSV text (quoted fields may hold commas, quotes and line breaks). */
function csvCells(text: string): string[] {
  const cells: string[] = [];
  let at = 0;
  while (at < text.length) {
    if (text[at] === '"') {
      let value = '';
      at++;
      for (;;) {
        const quote = text.indexOf('"', at);
        value += text.slice(at, quote);
        at = quote + 1;
        if (text[at] === '"') { value += '"'; at++; } else break;
      }
      cells.push(value);
    } else {
      const end = text.slice(at).search(/,|\r\n/);
      cells.push(end < 0 ? text.slice(at) : text.slice(at, at + end));
      at = end < 0 ? text.length : at + end;
    }
    if (text.startsWith(',', at)) at += 1;
    else if (text.startsWith('\r\n', at)) at += 2;
  }
  return cells;
}

describe('i13-08 hostile envelope data in the admin console and its exports', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i13-08', users: [ADMIN], password: PASSWORD, cli: 'in-process',
    recorder: { reply: (_line, stage) => (stage === 'dot' ? REMOTE_REPLY : undefined) },
    config: { web: { port: WEB_PORT } },
    setup: async (gateway) => void expect((await gateway.cli('user', 'role', ADMIN, 'add', 'admin')).code).toBe(0),
  });

  async function inbound(helo: string, from: string): Promise<void> {
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    try {
      expect(await client.command(`EHLO ${helo}`)).toMatch(/^250/);
      expect(await client.command(`MAIL FROM:<${from}>`), from).toMatch(/^250/);
      expect(await client.command('RCPT TO:<box@corp.test>')).toMatch(/^250/);
      expect(await client.command('DATA')).toMatch(/^354/);
      expect(await client.command('Subject: hello\r\n\r\nbody\r\n.')).toMatch(/^250/);
    } finally {
      client.close();
    }
  }

  it('shows markup escaped and exports formulas defused', async () => {
    await inbound('<script>alert(2)</script>', MARKUP_FROM);
    await inbound('formula.evil.test', FORMULA_FROM);
    await inbound('plus.evil.test', PLUS_FROM);
    await until(() => rig.rx.commands().filter((c) => c.toString() === 'DATA').length >= 3, 30_000, 'three delivery attempts, deferred by the smarthost');

    const admin = new HttpsClient(WEB_PORT);
    const csrf = HttpsClient.csrfOf((await admin.request('GET', '/admin/login')).body);
    expect((await admin.request('POST', '/admin/login', { form: { _csrf: csrf, username: ADMIN, password: PASSWORD } })).status).toBe(303);

    let audit = '';
    await until(async () => (audit = (await admin.request('GET', '/admin/audit')).body).includes('message.deferred'), 20_000, 'the deferrals in the audit view');
    const queue = (await admin.request('GET', '/admin/queue')).body;
    for (const [name, page] of [['audit', audit], ['queue', queue]] as const) {
      expect(page, name).not.toMatch(/<img|<script>alert|['"]onfocus/);
      expect(page, name).toContain('&#39;onfocus=alert(1)//');
    }
    expect(audit).toContain('&lt;img src=y onerror=alert(3)&gt;');
    expect(queue).toContain('=cmd|&#39;/Ccalc&#39;!A0@evil.test');

    const csv = await admin.request('GET', '/admin/audit.csv');
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const cells = csvCells(csv.body);
    expect(cells.filter((c) => /^[=+\-@\t\r]/.test(c))).toEqual([]);
    expect(cells).toEqual(expect.arrayContaining([`'${FORMULA_FROM}`, `'${PLUS_FROM}`]));
    // The JSON export carries the values as they are, as data.
    const json = (await admin.request('GET', '/admin/audit.json')).body;
    expect(json).toContain(JSON.stringify(FORMULA_FROM));
    expect((await admin.request('GET', '/admin/audit.json')).headers['x-content-type-options']).toBe('nosniff');
  }, 120_000);
});
