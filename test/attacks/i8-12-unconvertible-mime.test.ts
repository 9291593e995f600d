import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { authenticatedSession, sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 8 item 12: a MIME tree that cannot be converted to a pickup was retried for five
 * days. Now submitted mail nested deeper than limits.maxMimeDepth is refused at DATA, and a
 * conversion that can never succeed (here: an HTML body over the pickup limit) fails at the
 * first attempt with a report to the sender that says why.
 */
const PASSWORD = 'correct horse battery staple';

function nested(depth: number): string {
  let part = 'Content-Type: text/plain\r\n\r\nhello\r\n';
  for (let i = depth; i >= 1; i--) part = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${part}--b${i}--\r\n`;
  return part;
}

describe('i8-12 MIME that cannot become a pickup', () => {
  const rig = gatewayWithSmarthost({ prefix: 'i8-12', config: { limits: { maxMimeDepth: 20 }, web: { enabled: true, port: 0 } }, users: ['alice@corp.test'], password: PASSWORD });

  it('refuses submitted mail nested deeper than the limit at DATA, accepts the limit itself', async () => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    for (const [depth, expected] of [[21, /^554 5\.6\.0 .*nested more than 20 levels/], [20, /^250/]] as const) {
      expect(await client.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250/);
      expect(await client.command('RCPT TO:<patient@remote.test>')).toMatch(/^250/);
      expect(await sendData(client, `From: alice@corp.test\r\nSubject: [secure] deep\r\n${nested(depth)}`)).toMatch(expected);
    }
    client.close();
  });

  it('fails a conversion that can never succeed at once, with a report to the sender', async () => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    expect(await client.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<lab@remote.test>')).toMatch(/^250/);
    const html = `<p>${'x'.repeat(900)}</p>\r\n`.repeat(6 * 1200); // about 6.5 MB of HTML
    const reply = await sendData(client, `From: alice@corp.test\r\nSubject: [secure] big\r\nContent-Type: text/html\r\n\r\n${html}`);
    client.close();
    const id = /queued as (\S+)/.exec(reply)?.[1] ?? '';
    expect(id).not.toBe('');
    const db = new Database(path.join(rig.gateway.dir, 'data', 'sealgate.db'), { readonly: true });
    try {
      const row = () => db.prepare('select state, attempts, last_reply from recipients where message_id = ?').get(id) as { state: string; attempts: number; last_reply: string };
      await until(async () => !['queued', 'leased'].includes(row().state), 30_000, 'the conversion to settle');
      expect(row()).toMatchObject({ state: 'failed', attempts: 1 });
      expect(row().last_reply).toMatch(/^554 5\.6\.0 Cannot hold the message for Secure Message Pickup: the HTML body is larger than 5 MB/);
    } finally {
      db.close();
    }
    // The failure report reaches alice (through the corp.test smarthost) at once.
    // (Other reports may come first: the first test's notice to remote.test, a domain with no DNS, fails too.)
    const aboutLab = () => rig.rx.transactions().find((t) => t.data.includes('lab@remote.test'));
    await until(async () => aboutLab() !== undefined, 10_000, 'the report about lab@remote.test');
    const report = aboutLab()!;
    expect(report.mailFrom.toString('latin1')).toMatch(/^<>/);
    expect(report.rcptTo.map((r) => r.toString('latin1'))).toEqual([expect.stringMatching(/^<alice@corp\.test>/)]);
    expect(report.data.toString('latin1')).toMatch(/Status: 5\.6\.0/);
  });
});
