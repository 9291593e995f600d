import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { tempDir } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { afterFirstField, sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 8 item 5, second attack: RFC 5322 comments nest, but the authserv-id reader took out
 * only innermost ones in one pass, so `((x)) gateway.sealgate.test; dkim=pass` read as the
 * authserv-id "(" and the forged field reached the mailbox server behind us, which (reading
 * CFWS as RFC 8601 §2.2 says) sees our authserv-id and a dkim=pass we never gave.
 */
describe('i8-05 forged Authentication-Results behind nested comments', () => {
  const temp = tempDir('i8-05n');
  let box: RecordingSmtp;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    box = await startRecordingSmtp();
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'corp.test': { smarthost: `127.0.0.1:${box.port}`, verifyRecipients: 'off' } },
      web: { enabled: false },
    });
  }, 90_000);

  afterAll(async () => {
    await gateway?.kill();
    await box?.stop();
    temp.cleanup();
  });

  it('removes our authserv-id however deeply the comments before it nest', async () => {
    const kept = 'Authentication-Results: ((mx.evil.example)) mx.evil.example; spf=none\r\nFrom: ceo@bank.example\r\nTo: dr@corp.test\r\n';
    const forged =
      'Authentication-Results: ((x)) gateway.sealgate.test; dkim=pass header.d=corp.test\r\n' +
      'Authentication-Results: (a (b) c)GATEWAY.sealgate.test 1;\r\n\tdmarc=pass\r\n' +
      'Authentication-Results: (((deep)) \\) still comment) gateway.sealgate.test; spf=pass\r\n';
    const client = await RawSmtp.connect(gateway.ports.inbound);
    await client.command('EHLO mx.evil.example');
    expect(await client.command('MAIL FROM:<ceo@bank.example>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
    expect(await sendData(client, Buffer.from(`${forged}${kept}\r\npay`, 'latin1'))).toMatch(/^250/);
    client.close();
    await box.until(1, 10_000);
    expect(afterFirstField(box.transactions()[0].data).toString('latin1')).toBe(`${kept}\r\npay\r\n`);
  });
});
