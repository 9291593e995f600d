import { RawSmtp } from './raw-smtp.ts';

/** A submission session over STARTTLS, authenticated with AUTH PLAIN; throws unless each step succeeds. */
export async function authenticatedSession(port: number, user: string, password: string): Promise<RawSmtp> {
  const client = await RawSmtp.connect(port);
  expectCode(await client.command('EHLO client.test'), '250');
  await client.startTls();
  expectCode(await client.command('EHLO client.test'), '250');
  expectCode(await client.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`), '235');
  return client;
}

/** Sends a whole message (CRLF line ends, no final dot) after DATA's 354 and returns the final reply. */
export async function sendData(client: RawSmtp, message: Buffer | string): Promise<string> {
  expectCode(await client.command('DATA'), '354');
  client.write(Buffer.isBuffer(message) ? Buffer.concat([message, Buffer.from('\r\n.\r\n')]) : Buffer.from(`${message}\r\n.\r\n`, 'utf8'));
  return client.reply();
}

function expectCode(reply: string, code: string): void {
  if (!reply.startsWith(code)) throw new Error(`expected ${code}, got ${JSON.stringify(reply)}`);
}

/** The message as relayed, after the first header field (the Received: line the gateway added). */
export function afterFirstField(data: Buffer): Buffer {
  let at = data.indexOf('\r\n');
  while (at >= 0 && (data[at + 2] === 0x20 || data[at + 2] === 0x09)) at = data.indexOf('\r\n', at + 2);
  return at < 0 ? Buffer.alloc(0) : data.subarray(at + 2);
}
