import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { afterFirstField, sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 8 item 5, second attack: RFC 5322 comments nest, but the authserv-id reader took out
 * only innermost ones in one pass, so `((x)) gateway.sealgate.test; dkim=pass` read as the
 * authserv-id "(" and the forged field reached the mailbox server behind us, which (reading
 * CFWS as RFC 8601 §2.2 says) sees our authserv-id and a dkim=pass we never gave.
 */
describe('i8-05 forged Authentication-Results behind nested comments', () => {
  const rig = gatewayWithSmarthost({ prefix: 'i8-05n', queue: null });

  it('removes our authserv-id however deeply the comments before it nest', async () => {
    const kept = 'Authentication-Results: ((mx.evil.example)) mx.evil.example; spf=none\r\nFrom: ceo@bank.example\r\nTo: dr@corp.test\r\n';
    const forged =
      'Authentication-Results: ((x)) gateway.sealgate.test; dkim=pass header.d=corp.test\r\n' +
      'Authentication-Results: (a (b) c)GATEWAY.sealgate.test 1;\r\n\tdmarc=pass\r\n' +
      'Authentication-Results: (((deep)) \\) still comment) gateway.sealgate.test; spf=pass\r\n';
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO mx.evil.example');
    expect(await client.command('MAIL FROM:<ceo@bank.example>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
    expect(await sendData(client, Buffer.from(`${forged}${kept}\r\npay`, 'latin1'))).toMatch(/^250/);
    client.close();
    await rig.rx.until(1, 10_000);
    expect(afterFirstField(rig.rx.transactions()[0].data).toString('latin1')).toBe(`${kept}\r\npay\r\n`);
  });
});
