import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { authenticatedSession, sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 10 item 4, attacker's pass: a message with two Subject fields, the second one tagged.
 * Ingress read only the first field for the tag, while the rewrite took the tag out of every
 * field: the copy left over the plaintext smarthost hop untagged and in the clear, though the
 * sender (or their client, which may show the last field) asked for Secure Message Pickup.
 * A tag in any Subject field is the request.
 */
const PASSWORD = 'correct horse battery staple';

describe('i10-04 a tag in the second Subject field', () => {
  const rig = gatewayWithSmarthost({ prefix: 'i10-04', users: ['alice@corp.test'], password: PASSWORD, config: { web: { enabled: true, port: 0 } } });

  it('is honoured: the smarthost gets only the notice, never the body', async () => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    expect(await client.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
    const reply = await sendData(
      client,
      Buffer.from('From: alice@corp.test\r\nTo: dr@corp.test\r\nSubject: Lab results\r\nSubject: [secure] Lab results\r\nMessage-ID: <two@corp.test>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nCreatinine 1.1 mg/dL\r\n', 'utf8'),
    );
    client.close();
    expect(reply).toMatch(/^250/);
    await rig.rx.until(1, 10_000);
    const bytes = rig.rx.bytes().toString('latin1');
    expect(bytes).toMatch(/\/m\/[A-Za-z0-9_-]{22}#/); // the notice's link
    expect(bytes).not.toContain('Creatinine');
    expect(bytes).not.toContain('two@corp.test');
  });
});
