import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { authenticatedSession, sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 8 item 3, second attack: a From: that is not RFC 5322 syntax. The sender check read
 * the field with a lenient parser that takes one address and turns the rest into a display
 * name, so alice could submit `From: alice@corp.test bob@corp.test` or
 * `From: <alice@corp.test> bob@corp.test`: we saw alice, the recipient's mail client (each
 * repairs broken syntax its own way: "Composition Kills", USENIX Security 2020) may show bob.
 * Every address outside quotes and comments must now be the user's.
 */
const PASSWORD = 'correct horse battery staple';

describe('i8-03 ambiguous From: headers on submission', () => {
  const rig = gatewayWithSmarthost({ prefix: 'i8-03a', users: ['alice@corp.test'], password: PASSWORD });

  it('refuses a From: or Sender: that hides a second address in broken syntax; accepts quoted and commented names', async () => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    const send = async (field: string) => {
      expect(await client.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250/);
      expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
      return sendData(client, `${field}\r\nTo: dr@corp.test\r\nSubject: transfer\r\n\r\npay now\r\n`);
    };
    for (const field of [
      'From: alice@corp.test bob@corp.test',
      'From: <alice@corp.test> bob@corp.test',
      'From: <alice@corp.test>bob@corp.test',
      'From: Alice <alice@corp.test> <bob@corp.test>',
      'From: bob@corp.test\\ <alice@corp.test>',
      'From: alice@corp.test\r\nSender: <alice@corp.test> ceo@bank.example',
    ]) {
      expect(await send(field), field).toMatch(/^553 5\.7\.1 .*(From|Sender): header/);
    }
    expect(rig.rx.transactions()).toEqual([]);
    // A display name may say anything inside quotes or a comment (it is only a name).
    expect(await send('From: "Sales (alice@corp.test)" <alice@corp.test>')).toMatch(/^250/);
    expect(await send('From: (the lab) Alice@Corp.test')).toMatch(/^250/);
    client.close();
    await rig.rx.until(2, 10_000);
  });
});
