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
 */
const PASSWORD = 'correct horse battery staple';

describe('i8-13 control headers and the subject tag leave no copy', () => {
  const rig = gatewayWithSmarthost({ prefix: 'i8-13', users: ['alice@corp.test'], password: PASSWORD });

  it('the local Cc copy over the smarthost has no Sealgate-* field and no tag; the pickup keeps the choice', async () => {
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
    await rig.rx.until(1, 10_000);
    expect(afterFirstField(rig.rx.transactions()[0].data).toString('latin1')).toBe(
      'From: alice@corp.test\r\nTo: patient@remote.test\r\nCc: dr@corp.test\r\nSubject: Lab results\r\nMessage-ID: <m1@corp.test>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nresults attached\r\n\r\n',
    );
    const db = new Database(path.join(rig.gateway.dir, 'data', 'sealgate.db'), { readonly: true });
    try {
      const rows = () => db.prepare('select verification, recipient from pickup_messages').all();
      await until(async () => rows().length > 0, 10_000, 'the pickup');
      expect(rows()).toEqual([{ verification: 'passphrase', recipient: 'patient@remote.test' }]);
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
