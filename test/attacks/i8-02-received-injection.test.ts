import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 8 item 2: header injection into our own Received: line. An EHLO name or the single
 * recipient written with U+01xx characters (U+010D U+010A = CR LF once written as latin1)
 * became a header line of its own (`Bcc: …`) in the stored and relayed message.
 */
const hide = (text: string): string => text.replace(/[\r\n<>@ :]/g, (c) => String.fromCharCode(0x100 + c.charCodeAt(0)));
const utf8 = (text: string) => Buffer.from(text, 'utf8');

/** Field lines (not continuations) of the header block as received. */
function fieldLines(data: Buffer): string[] {
  const text = data.toString('latin1');
  const block = text.slice(0, text.indexOf('\r\n\r\n'));
  return block.split('\r\n').filter((line) => !/^[ \t]/.test(line));
}

describe('i8-02 header injection into our Received: line', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i8-02',
    recorder: { extensions: ['SMTPUTF8', '8BITMIME'] },
    domains: (smarthost) => ({ 'inbound.test': { smarthost, verifyRecipients: 'off' } }),
  });

  it('keeps a hostile EHLO name and recipient inside the Received: line, in ASCII', async () => {
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    client.write(utf8(`EHLO evil${hide('\r\nBcc: helo-victim@evil.example')}\r\n`));
    expect(await client.reply()).toMatch(/^250/);
    expect(await client.command('MAIL FROM:<x@sender.example> SMTPUTF8')).toMatch(/^250/);
    client.write(utf8(`RCPT TO:<b${hide('\r\nBcc: x')}@inbound.test>\r\n`));
    expect(await client.reply()).toMatch(/^250/);
    expect(await client.command('DATA')).toMatch(/^354/);
    client.write(utf8('From: x@sender.example\r\nSubject: hello\r\n\r\nhello\r\n.\r\n'));
    expect(await client.reply()).toMatch(/^250/);
    client.close();
    await rig.rx.until(1, 10_000);
    const [transaction] = rig.rx.transactions();
    const fields = fieldLines(transaction.data);
    expect(fields.map((l) => l.split(':')[0])).toEqual(['Received', 'From', 'Subject']);
    const received = transaction.data.subarray(0, transaction.data.indexOf('\r\nFrom: ') + 2);
    expect([...received].every((b) => b >= 0x20 ? b < 0x7f : b === 0x0d || b === 0x0a || b === 0x09)).toBe(true);
    expect(received.toString('latin1')).not.toMatch(/\r\nBcc/i);
    // The recipient is not ASCII, so it is left out of the optional "for" clause.
    expect(received.toString('latin1')).not.toContain('for <');
  });
});
