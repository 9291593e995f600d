import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { tempDir, until } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';

/*
 * Issue 8 item 1: an address whose specials are written as U+0100 + the byte (U+010D U+010A
 * for CR LF, U+013C/U+013E for < >, U+0140 for @, U+0120 for a space, U+013A for ':') became
 * a second transaction at the smarthost when the client wrote the string as latin1.
 */
const hide = (text: string): string => text.replace(/[\r\n<>@ :]/g, (c) => String.fromCharCode(0x100 + c.charCodeAt(0)));
const INJECTED = hide('>\r\nRCPT TO:<victim@evil.example>\r\nDATA\r\nSubject: injected\r\n\r\nattacker text\r\n.\r\nMAIL FROM:<x');
// Short enough for a 64-octet local part, so the RCPT path is exercised all the way.
const INJECTED_RCPT = hide('>\r\nRCPT TO:<victim@evil.example');
const utf8 = (text: string) => Buffer.from(text, 'utf8');
const startsWith = (bytes: Buffer, prefix: Buffer) => bytes.subarray(0, prefix.length).equals(prefix);

async function session(port: number, mailFrom: Buffer, rcptTo: Buffer, mailParams = ''): Promise<{ mail: string; rcpt: string; data: string; end: string }> {
  const client = await RawSmtp.connect(port);
  await client.command('EHLO attacker.example');
  client.write(Buffer.concat([utf8('MAIL FROM:<'), mailFrom, utf8(`>${mailParams}\r\n`)]));
  const mail = await client.reply();
  client.write(Buffer.concat([utf8('RCPT TO:<'), rcptTo, utf8('>\r\n')]));
  const rcpt = await client.reply();
  let data = '';
  let end = '';
  if (mail.startsWith('250') && rcpt.startsWith('250')) {
    data = await client.command('DATA');
    client.write(utf8('From: x@sender.example\r\nSubject: hello\r\n\r\nhello\r\n.\r\n'));
    end = await client.reply();
  }
  client.close();
  return { mail, rcpt, data, end };
}

// A command line the attacker's hidden text would have become, had it been written as latin1.
const INJECTED_LINE = /^(RCPT TO:<victim@evil\.example>|Subject: injected|attacker text|MAIL FROM:<x>$)/;
const injectedCommands = (rx: RecordingSmtp) => rx.commands().filter((c) => INJECTED_LINE.test(c.toString('latin1')));

describe('i8-01 command injection through non-ASCII addresses', () => {
  const temp = tempDir('i8-01');
  let utf8Rx: RecordingSmtp;
  let asciiRx: RecordingSmtp;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    utf8Rx = await startRecordingSmtp({ extensions: ['SMTPUTF8', '8BITMIME'] });
    asciiRx = await startRecordingSmtp({ extensions: ['8BITMIME'] });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: {
        'inbound.test': { smarthost: `127.0.0.1:${utf8Rx.port}` },
        // No RCPT probe here (it would refuse the address at the door): this domain shows the delivery path.
        'legacy.test': { smarthost: `127.0.0.1:${asciiRx.port}`, verifyRecipients: 'off' },
      },
      queue: { retryScheduleMs: [60_000], pollIntervalMs: 100 },
    });
  }, 30_000);

  afterAll(async () => {
    await gateway?.kill();
    await utf8Rx?.stop();
    await asciiRx?.stop();
    temp.cleanup();
  });

  it('refuses a non-ASCII sender without SMTPUTF8 at the door (553 5.6.7)', async () => {
    const { mail } = await session(gateway.ports.inbound, utf8(`x${INJECTED}@sender.example`), utf8('bob@inbound.test'));
    expect(mail).toMatch(/^553 5\.6\.7 /);
  });

  it('refuses a non-ASCII recipient without SMTPUTF8 at the door (553 5.6.7)', async () => {
    const { rcpt } = await session(gateway.ports.inbound, utf8('x@sender.example'), utf8(`bob${INJECTED}@inbound.test`));
    expect(rcpt).toMatch(/^553 5\.6\.7 /);
  });

  it('relays the same sender with SMTPUTF8 as one transaction, byte for byte in UTF-8', async () => {
    const before = utf8Rx.transactions().length;
    const sender = utf8(`x${INJECTED}@sender.example`);
    const { mail, end } = await session(gateway.ports.inbound, sender, utf8('bob@inbound.test'), ' SMTPUTF8');
    expect(mail).toMatch(/^250 /);
    expect(end).toMatch(/^250 /);
    await utf8Rx.until(before + 1, 10_000);
    await new Promise((r) => setTimeout(r, 300)); // an injected second transaction would arrive right behind
    const transactions = utf8Rx.transactions().slice(before);
    expect(transactions).toHaveLength(1);
    expect(startsWith(transactions[0].mailFrom, Buffer.concat([utf8('<'), sender, utf8('>')]))).toBe(true);
    expect(transactions[0].mailFrom.toString('utf8')).toMatch(/> .*\bSMTPUTF8\b/);
    expect(transactions[0].rcptTo.map((r) => r.toString('utf8'))).toEqual(['<bob@inbound.test>']);
    expect(injectedCommands(utf8Rx)).toEqual([]);
    expect(utf8Rx.bytes().includes(utf8('RCPT TO:<victim'))).toBe(false);
  });

  it('never turns a hidden recipient into commands (RCPT path)', async () => {
    const before = utf8Rx.transactions().length;
    const recipient = utf8(`b${INJECTED_RCPT}@inbound.test`);
    const { rcpt, end } = await session(gateway.ports.inbound, utf8('x@sender.example'), recipient, ' SMTPUTF8');
    expect(Buffer.byteLength(`b${INJECTED_RCPT}`)).toBeLessThanOrEqual(64);
    if (rcpt.startsWith('250')) {
      // Accepted as a valid RFC 6531 mailbox: it must reach the receiver as the one address it is.
      expect(end).toMatch(/^250 /);
      await utf8Rx.until(before + 1, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      const transactions = utf8Rx.transactions().slice(before);
      expect(transactions).toHaveLength(1);
      expect(transactions[0].rcptTo).toHaveLength(1);
      expect(transactions[0].rcptTo[0].equals(Buffer.concat([utf8('<'), recipient, utf8('>')]))).toBe(true);
    } else {
      // Refused at RCPT (e.g. recipient verification): nothing may have been relayed.
      expect(rcpt).toMatch(/^5/);
    }
    expect(injectedCommands(utf8Rx)).toEqual([]);
  });

  it('delivers 用户@… to an SMTPUTF8 receiver as UTF-8 bytes', async () => {
    const before = utf8Rx.transactions().length;
    const { mail, end } = await session(gateway.ports.inbound, utf8('用户@sender.example'), utf8('用户@inbound.test'), ' SMTPUTF8');
    expect(mail).toMatch(/^250 /);
    expect(end).toMatch(/^250 /);
    await utf8Rx.until(before + 1, 10_000);
    const [transaction] = utf8Rx.transactions().slice(before);
    expect(startsWith(transaction.mailFrom, utf8('<用户@sender.example>'))).toBe(true);
    expect(transaction.mailFrom.toString('utf8')).toMatch(/> .*\bSMTPUTF8\b/);
    expect(transaction.rcptTo).toEqual([utf8('<用户@inbound.test>')]);
  });

  it('fails a non-ASCII envelope for a receiver without SMTPUTF8 with 5.6.7, never mangled', async () => {
    const { mail, rcpt, end } = await session(gateway.ports.inbound, Buffer.alloc(0), utf8('用户@legacy.test'), ' SMTPUTF8');
    expect(rcpt).toMatch(/^250 /);
    expect(mail).toMatch(/^250 /);
    expect(end).toMatch(/^250 /);
    const id = /queued as (\S+)/.exec(end)?.[1] ?? '';
    const show = async () => (await gateway.cli('queue', 'show', id)).stdout;
    // Wait on the worker's log line (each CLI call is a process of its own), then ask the queue once.
    const settled = () => gateway.output().split('\n').some((l) => l.includes(`"messageId":"${id}"`) && l.includes('"failed":1'));
    await until(settled, 10_000, 'the permanent failure of the attempt');
    expect(await show()).toMatch(/failed +<用户@legacy\.test>.*553 5\.6\.7 /);
    expect(asciiRx.transactions()).toEqual([]);
    // Nothing of the address reached the receiver, in any encoding.
    expect(asciiRx.commands().filter((c) => /^RCPT/i.test(c.toString('latin1')))).toEqual([]);
    expect(asciiRx.bytes().includes(utf8('用户'))).toBe(false);
    expect(asciiRx.bytes().includes(Buffer.from('用户', 'latin1'))).toBe(false);
  });
});
