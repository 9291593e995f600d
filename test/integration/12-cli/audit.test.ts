/**
 * The audit chain end to end (issue 13 "audit log"): a real gateway process records SMTP AUTH
 * logins and the message submitted, the CLI records admin changes with before and after, `audit verify` passes on the
 * untouched log and names the first edited event once someone rewrites a row in the database.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../../helpers/attack-rig.ts';
import { RawSmtp } from '../../helpers/raw-smtp.ts';
import { authenticatedSession, sendData } from '../../helpers/smtp-session.ts';

const PASSWORD = 'correct horse battery staple';

describe('audit chain through the gateway and the CLI', () => {
  const rig = gatewayWithSmarthost({ prefix: 'audit', users: ['alice@corp.test'], password: PASSWORD });

  it('records logins and admin changes, verifies, and names the first edited event', async () => {
    const wrong = await RawSmtp.connect(rig.gateway.ports.submission);
    await wrong.command('EHLO client.test');
    await wrong.startTls();
    await wrong.command('EHLO client.test');
    expect(await wrong.command(`AUTH PLAIN ${Buffer.from('\0Alice@corp.test\0not the password').toString('base64')}`)).toMatch(/^535 /);
    // A password typed into the user name field is not written down.
    expect(await wrong.command(`AUTH PLAIN ${Buffer.from(`\0${PASSWORD}\0x`).toString('base64')}`)).toMatch(/^535 /);
    wrong.close();
    const session = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    expect(await session.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250 /);
    expect(await session.command('RCPT TO:<lab@corp.test>')).toMatch(/^250 /);
    const accepted = await sendData(session, 'From: alice@corp.test\r\nTo: lab@corp.test\r\nSubject: Results for Jane\r\n\r\nDIAGNOSIS\r\n');
    expect(accepted).toMatch(/^250 /);
    session.close();
    // The mailbox server took it: the delivery is in the chain too, with where it went.
    await expect.poll(async () => (JSON.parse((await rig.gateway.cli('audit', 'list', '--action', 'message.delivered', '--json')).stdout) as unknown[]).length, { timeout: 20_000 }).toBe(1);
    expect((await rig.gateway.cli('domain', 'pin', 'partner.test', 'dane')).code).toBe(0);
    expect((await rig.gateway.cli('domain', 'pin', 'partner.test', 'tls-verified')).code).toBe(0);
    expect((await rig.gateway.cli('domain', 'unpin', 'partner.test')).code).toBe(0);

    const listed = await rig.gateway.cli('audit', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const events = JSON.parse(listed.stdout) as { seq: number; actor: string; action: string; target: string | null; protocol: string; ip: string | null; detail: Record<string, unknown> }[];
    expect(events.map((e) => [e.seq, e.action, e.actor.startsWith('admin:') ? 'admin' : e.actor.startsWith('node:') ? 'node:' : e.actor, e.protocol])).toEqual([
      [1, 'login.failed', 'alice@corp.test', 'smtp'],
      [2, 'login.failed', '(not an address)', 'smtp'],
      [3, 'login.ok', 'alice@corp.test', 'smtp'],
      [4, 'message.submitted', 'alice@corp.test', 'smtp'],
      [5, 'message.delivered', 'node:', 'smtp'],
      [6, 'domain.pin', 'admin', 'cli'],
      [7, 'domain.pin', 'admin', 'cli'],
      [8, 'domain.unpin', 'admin', 'cli'],
    ]);
    expect(events[0].ip).toBe('127.0.0.1');
    // The message's events name its queue id, sender, recipients and where it went; never its subject or body.
    expect(events[3]).toMatchObject({ ip: '127.0.0.1', target: expect.stringMatching(/^[A-Za-z0-9]{16}$/), detail: { from: 'alice@corp.test', recipients: ['lab@corp.test'], count: 1 } });
    expect(events[4]).toMatchObject({ target: events[3].target, detail: { recipient: 'lab@corp.test', route: 'link', mx: '127.0.0.1', reply: expect.stringMatching(/^250 /) } });
    expect(events[6]).toMatchObject({ target: 'partner.test', detail: { before: 'dane', after: 'tls-verified' } });
    expect(listed.stdout).not.toContain(PASSWORD);
    expect(listed.stdout).not.toMatch(/Jane|DIAGNOSIS/);
    expect(JSON.parse((await rig.gateway.cli('audit', 'list', '--action', 'domain', '--json')).stdout)).toHaveLength(3);

    const intact = await rig.gateway.cli('audit', 'verify');
    expect(intact, intact.stderr).toMatchObject({ code: 0, stdout: expect.stringMatching(/^audit log intact: 8 event\(s\)/) });
    const csv = (await rig.gateway.cli('audit', 'export', '--format', 'csv')).stdout.split('\r\n');
    expect(csv[0]).toBe('seq,at,node,actor,action,target,ip,protocol,detail,prev_hash,hash');
    expect(csv).toHaveLength(10); // header, 8 events, the empty line after the last CRLF

    // Someone with write access to the database makes the failed login look like someone else's.
    const db = new Database(path.join(rig.gateway.dir, 'data', 'sealgate.db'));
    try {
      db.prepare("update audit_events set actor = 'bob@corp.test' where seq = 1").run();
    } finally {
      db.close();
    }
    const broken = await rig.gateway.cli('audit', 'verify');
    expect(broken.code).toBe(65);
    expect(broken.stderr).toContain('audit log broken at event 1: event 1 (login.failed) was changed after it was written');
  });
});
