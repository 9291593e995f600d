import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { authenticatedSession, sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 8 item 3: sender impersonation on submission. Authenticated alice could send as
 * MAIL FROM:<bob@…>, <ceo@bank.example>, <> and with a forged From:, and the pickup then
 * belonged to whoever MAIL FROM named. Now only addresses her account owns (her own, aliases,
 * granted domains) pass, the pickup belongs to the authenticated user, and our Received:
 * names her.
 */
const PASSWORD = 'correct horse battery staple';

describe('i8-03 sender impersonation on submission', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i8-03',
    // The portal runs (any free port): a pickup needs one since issue 10 item 4.
    config: { web: { enabled: true, port: 0 } },
    users: ['alice@corp.test'],
    password: PASSWORD,
    setup: async (gateway) => {
      const granted = await Promise.all([
        gateway.cli('user', 'alias', 'add', 'alice@corp.test', 'sales@corp.test'),
        gateway.cli('user', 'alias', 'add', 'alice@corp.test', '@branch.test'),
      ]);
      expect(granted.map((r) => r.code)).toEqual([0, 0]);
    },
  });

  it('refuses an envelope sender the account does not own, naming it, and the null sender', async () => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    expect(await client.command('MAIL FROM:<bob@corp.test>')).toMatch(/^553 5\.7\.1 .*<bob@corp\.test>.*not owned by your account/);
    expect(await client.command('MAIL FROM:<ceo@bank.example>')).toMatch(/^553 5\.7\.1 .*<ceo@bank\.example>/);
    expect(await client.command('MAIL FROM:<>')).toMatch(/^553 5\.7\.1 .*<>/);
    // Her own address in any case, an alias and any address of a granted domain pass.
    for (const own of ['Alice@CORP.test', 'sales@corp.test', 'anyone@branch.test']) {
      expect(await client.command(`MAIL FROM:<${own}>`)).toMatch(/^250/);
      expect(await client.command('RSET')).toMatch(/^250/);
    }
    expect(await client.command('MAIL FROM:<x@sub.branch.test>')).toMatch(/^553 5\.7\.1/);
    client.close();
    const list = await rig.gateway.cli('user', 'alias', 'list', 'alice@corp.test');
    expect(list.stdout).toBe('@branch.test\nsales@corp.test\n');
  });

  it('refuses a forged From: header once the header block is read; nothing is queued', async () => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    for (const from of ['bob@corp.test', '"alice@corp.test" <bob@corp.test>', 'alice@corp.test, bob@corp.test', 'undisclosed']) {
      expect(await client.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250/);
      expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
      expect(await sendData(client, `From: ${from}\r\nTo: dr@corp.test\r\nSubject: transfer\r\n\r\npay now\r\n`)).toMatch(/^553 5\.7\.1 .*(From: header|not owned)/);
    }
    client.close();
    // Refused at the end of DATA: the smarthost saw nothing.
    expect(rig.rx.transactions()).toEqual([]);
  });

  it('names the authenticated user in our Received: line', async () => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    expect(await client.command('MAIL FROM:<sales@corp.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
    expect(await sendData(client, 'From: Sales <sales@corp.test>\r\nTo: dr@corp.test\r\nSubject: offer\r\n\r\nhello\r\n')).toMatch(/^250/);
    client.close();
    await rig.rx.until(1, 10_000);
    const [transaction] = rig.rx.transactions();
    expect(transaction.mailFrom.toString('latin1')).toMatch(/^<sales@corp\.test>( |$)/);
    expect(transaction.data.toString('latin1')).toMatch(/^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby gateway\.sealgate\.test \(Sealgate\)\r\n\t\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)\r\n\twith ESMTPSA \(authenticated as alice@corp\.test\)\r\n/);
  });

  it('gives the pickup to the authenticated user, not to MAIL FROM', async () => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    expect(await client.command('MAIL FROM:<sales@corp.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<patient@remote.test>')).toMatch(/^250/);
    expect(await sendData(client, 'From: sales@corp.test\r\nTo: patient@remote.test\r\nSubject: [secure] results\r\n\r\nconfidential\r\n')).toMatch(/^250/);
    client.close();
    const db = new Database(path.join(rig.gateway.dir, 'data', 'sealgate.db'), { readonly: true });
    try {
      const senders = () => db.prepare('select sender, recipient from pickup_messages').all() as { sender: string; recipient: string }[];
      await until(async () => senders().length > 0, 10_000, 'a pickup');
      expect(senders()).toEqual([{ sender: 'alice@corp.test', recipient: 'patient@remote.test' }]);
    } finally {
      db.close();
    }
  });
});
