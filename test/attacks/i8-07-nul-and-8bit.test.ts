import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 8 item 7: `\r\n\x00.\r\n` followed by a second transaction was queued and relayed as
 * is; a next hop that drops NUL would read the end of data there and run the attacker's
 * second transaction. NUL is refused (554 5.6.0), so is 8-bit data without BODY=8BITMIME or
 * SMTPUTF8 (RFC 6152; Postfix strict_8bitmime_body), and bare CR / bare LF (554 5.6.11).
 */
const SMUGGLED = Buffer.concat([
  Buffer.from('From: x@sender.example\r\nSubject: first\r\n\r\nhello\r\n'),
  Buffer.from([0x00]),
  Buffer.from('.\r\nMAIL FROM:<x@sender.example>\r\nRCPT TO:<victim@inbound.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsecond\r\n'),
  Buffer.from('.\r\n'),
]);

describe('i8-07 NUL, undeclared 8-bit and bare line ends in DATA', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i8-07',
    recorder: { extensions: ['8BITMIME'] },
    domains: (smarthost) => ({ 'inbound.test': { smarthost, verifyRecipients: 'off' } }),
  });

  async function send(body: Buffer, mailParams = ''): Promise<string> {
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO client.example');
    expect(await client.command(`MAIL FROM:<x@sender.example>${mailParams}`)).toMatch(/^250/);
    expect(await client.command('RCPT TO:<bob@inbound.test>')).toMatch(/^250/);
    expect(await client.command('DATA')).toMatch(/^354/);
    client.write(body);
    const reply = await client.reply();
    client.close();
    return reply;
  }

  it('refuses NUL anywhere in DATA (554 5.6.0), nothing queued or relayed', async () => {
    expect(await send(SMUGGLED, ' BODY=8BITMIME')).toMatch(/^554 5\.6\.0 .*NUL/);
    expect(await send(Buffer.from('Subject: a\0b\r\n\r\nx\r\n.\r\n'))).toMatch(/^554 5\.6\.0 /);
  });

  it('refuses 8-bit data without BODY=8BITMIME, accepts it with', async () => {
    const body = Buffer.from('Subject: caf\u00e9\r\n\r\ncaf\u00e9\r\n.\r\n', 'utf8');
    expect(await send(body)).toMatch(/^554 5\.6\.0 .*8BITMIME/);
    expect(await send(body, ' BODY=8BITMIME')).toMatch(/^250 /);
    await rig.rx.until(1, 10_000);
    expect(rig.rx.transactions()[0].data.includes(Buffer.from('caf\u00e9', 'utf8'))).toBe(true);
  });

  it('refuses bare LF and bare CR line ends (SMTP smuggling)', async () => {
    expect(await send(Buffer.from('Subject: a\r\n\r\nx\n.\nMAIL FROM:<y@z>\r\n\r\n.\r\n'))).toMatch(/^554 5\.6\.11 /);
    expect(await send(Buffer.from('Subject: a\r\n\r\nx\r.\rMAIL FROM:<y@z>\r\n\r\n.\r\n'))).toMatch(/^554 5\.6\.11 /);
    // Only the one 8BITMIME message above ever reached the receiver.
    await new Promise((r) => setTimeout(r, 500));
    expect(rig.rx.transactions()).toHaveLength(1);
    expect(rig.rx.bytes().includes(Buffer.from('victim@inbound.test'))).toBe(false);
    expect(rig.rx.bytes().includes(Buffer.from([0]))).toBe(false);
  });
});
