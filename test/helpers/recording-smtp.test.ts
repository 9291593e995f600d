import { afterAll, expect, it } from 'vitest';
import { createTestCa } from './ca.ts';
import { tempDir } from './ports.ts';
import { RawSmtp } from './raw-smtp.ts';
import { startRecordingSmtp } from './recording-smtp.ts';

const temp = tempDir('recorder');
afterAll(() => temp.cleanup());

it('records bytes, commands and transactions, with an injected bare LF showing up as a command', async () => {
  const rx = await startRecordingSmtp({ extensions: ['SMTPUTF8'] });
  const client = await RawSmtp.connect(rx.port);
  expect(await client.command('EHLO me')).toMatch(/SMTPUTF8/);
  client.write(Buffer.from('MAIL FROM:<a@b.test>\nRCPT TO:<x@evil.test>\r\nDATA\r\n', 'utf8'));
  expect(await client.reply()).toMatch(/^250/);
  expect(await client.reply()).toMatch(/^250/);
  expect(await client.reply()).toMatch(/^354/);
  client.write(Buffer.from('Subject: hi\r\n\r\n..dot\r\n.\r\n'));
  expect(await client.reply()).toMatch(/^250/);
  await rx.until(1);
  expect(rx.commands().map(String)).toEqual(['EHLO me', 'MAIL FROM:<a@b.test>', 'RCPT TO:<x@evil.test>', 'DATA']);
  expect(rx.transactions()[0]!.data.toString()).toBe('Subject: hi\r\n\r\n..dot\r\n');
  expect(rx.bytes().includes(Buffer.from('MAIL FROM:<a@b.test>\nRCPT'))).toBe(true);
  client.close();
  await rx.stop();
});

it('offers STARTTLS, overrides replies and delays the end of DATA', async () => {
  const ca = await createTestCa(temp.dir);
  const cert = await ca.issue(['recorder.test']);
  const rx = await startRecordingSmtp({ tls: { key: cert.keyPem, cert: cert.certPem }, dataReplyDelayMs: 300, reply: (line, stage) => (stage === 'rcpt' && line.includes('no@') ? '550 5.1.1 no such user' : undefined) });
  const client = await RawSmtp.connect(rx.port);
  expect(await client.command('EHLO me')).toMatch(/STARTTLS/);
  await client.startTls();
  expect(await client.command('EHLO me')).not.toMatch(/STARTTLS/);
  expect(await client.command('MAIL FROM:<>')).toMatch(/^250/);
  expect(await client.command('RCPT TO:<no@x.test>')).toMatch(/^550/);
  expect(await client.command('RCPT TO:<yes@x.test>')).toMatch(/^250/);
  expect(await client.command('DATA')).toMatch(/^354/);
  const started = Date.now();
  expect(await client.command('x\r\n.')).toMatch(/^250/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  expect(rx.transactions()[0]!.rcptTo.map(String)).toEqual(['<yes@x.test>']);
  client.close();
  await rx.stop();
});
