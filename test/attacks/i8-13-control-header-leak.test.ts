import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { afterFirstField, authenticatedSession, sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 8 item 13: control headers leak. A submitted `Sealgate-Secure: passphrase=…` reached a
 * local Cc recipient's copy over the plaintext smarthost link, with `[secure]` still in its
 * subject. Ingress now reads the controls once into the envelope (the passphrase sealed by the
 * vault) and stores the message without them, so every route sends the same clean copy.
 * Since issue 10 item 4 the request is honoured on the smarthost route too: the local Cc
 * recipient gets a pickup like the remote one, and the smarthost sees only its notice.
 */
const PASSWORD = 'correct horse battery staple';

describe('i8-13 control headers and the subject tag leave no copy', () => {
  // The portal runs (port 0: any free one): without it a pickup request is refused.
  const rig = gatewayWithSmarthost({ prefix: 'i8-13', users: ['alice@corp.test'], password: PASSWORD, config: { web: { enabled: true, port: 0 } } });

  it('the local Cc recipient gets a pickup too: the smarthost sees only its notice, no Sealgate-* field, no tag; the pickups keep the choice', async () => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    expect(await client.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<patient@remote.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
    const reply = await sendData(
      client,
      'From: alice@corp.test\r\nTo: patient@remote.test\r\nCc: dr@corp.test\r\nSubject: [SECURE] Lab results [secure]\r\nSealgate-Secure: passphrase=blue\r\n river stone\r\nSealgate-Require: none\r\nMessage-ID: <m1@corp.test>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nresults attached\r\n',
    );
    client.close();
    expect(reply).toMatch(/^250/);
    // Two mails reach the smarthost, in either order: dr's notice, and the report to alice that
    // the remote recipient's notice bounced (remote.test does not exist). Both carry nothing of the message.
    await rig.rx.until(2, 15_000);
    const recipientsOf = (t: { rcptTo: Buffer[] }) => t.rcptTo.map((r) => r.toString('latin1'));
    const notice = rig.rx.transactions().find((t) => recipientsOf(t).some((r) => r.startsWith('<dr@corp.test>')));
    const report = rig.rx.transactions().find((t) => recipientsOf(t).some((r) => r.startsWith('<alice@corp.test>')));
    if (!notice || !report) throw new Error(`expected dr's notice and alice's report, got ${rig.rx.transactions().map(recipientsOf).join(' | ')}`);
    expect(notice.mailFrom.toString('latin1')).toMatch(/^<>/);
    expect(recipientsOf(notice)).toEqual([expect.stringMatching(/^<dr@corp\.test>/)]);
    expect(report.mailFrom.toString('latin1')).toMatch(/^<>/);
    expect(report.data.toString('latin1')).toMatch(/the notice that tells them how to open it could\s+not be delivered/);
    const bytes = rig.rx.bytes().toString('latin1');
    expect(bytes).toMatch(/\/m\/[A-Za-z0-9_-]{22}#/); // the notice's link
    expect(bytes).not.toMatch(/sealgate-(secure|require)|\[secure\]|Lab results|results attached|m1@corp\.test/i);
    const db = new Database(path.join(rig.gateway.dir, 'data', 'sealgate.db'), { readonly: true });
    try {
      const rows = () => db.prepare('select verification, recipient from pickup_messages').all();
      await until(async () => rows().length === 2, 10_000, 'the pickups');
      expect(rows()).toEqual(expect.arrayContaining([{ verification: 'passphrase', recipient: 'patient@remote.test' }, { verification: 'passphrase', recipient: 'dr@corp.test' }]));
      // One submitted message is one entry in the sender's console, across its domain groups (issue 10 item 7).
      const compositions = db.prepare('select distinct composition_id as id from pickup_messages').all() as { id: string | null }[];
      expect(compositions).toEqual([{ id: expect.stringMatching(/^smtp-/) }]);
      // The passphrase is in no readable row of the database (the envelope holds it sealed).
      const envelopes = db.prepare('select envelope from messages').all() as { envelope: string }[];
      expect(envelopes.length).toBeGreaterThan(0);
      for (const { envelope } of envelopes) expect(envelope).not.toMatch(/blue|river/);
    } finally {
      db.close();
    }
    const id = /queued as (\S+)/.exec(reply)?.[1] ?? '';
    expect((await rig.gateway.cli('queue', 'show', id)).stdout).not.toMatch(/blue|river|Sealgate-Secure/);
  });
});
