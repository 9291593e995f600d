import net from 'node:net';
import tls from 'node:tls';
import { until } from './ports.ts';

export type RecordingStage = 'ehlo' | 'mail' | 'rcpt' | 'data' | 'dot' | 'other';

export interface RecordingSmtpOptions {
  host?: string;
  /** Default any free port; several MX receivers on different addresses share delivery.port. */
  port?: number;
  /** Offers STARTTLS with this key and certificate. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Extra EHLO keywords, e.g. 'SMTPUTF8', '8BITMIME', 'REQUIRETLS'. */
  extensions?: string[];
  /** Overrides a reply: return the whole reply line(s) without the final CRLF, or undefined. For 'dot' the line is the message data. */
  reply?: (line: Buffer, stage: RecordingStage) => string | undefined;
  /** Waits this long before answering the end of DATA (a slow receiver). */
  dataReplyDelayMs?: number;
}

export interface RecordedTransaction {
  /** What followed `MAIL FROM:` on the wire, parameters included. */
  mailFrom: Buffer;
  /** What followed `RCPT TO:` on each accepted line. */
  rcptTo: Buffer[];
  /** The data as it arrived (still dot-stuffed), without the final `.CRLF`. */
  data: Buffer;
}

export interface RecordingSmtp {
  host: string;
  port: number;
  /** Every byte any client wrote (after TLS), all connections in the order they arrived. */
  bytes(): Buffer;
  /** Every command line outside DATA, without its line ending. */
  commands(): Buffer[];
  transactions(): RecordedTransaction[];
  until(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const END_OF_DATA = Buffer.from('\r\n.\r\n');

/**
 * A receiving MTA for tests that records bytes exactly as they arrive. Written by hand, not on
 * smtp-server, because attack tests must see what the client wrote before any library
 * normalises it. Lenient like many real servers: a bare LF ends a command line, so an
 * injected line break shows up as an extra command.
 */
export async function startRecordingSmtp(options: RecordingSmtpOptions = {}): Promise<RecordingSmtp> {
  const host = options.host ?? '127.0.0.1';
  const received: Buffer[] = [];
  const commands: Buffer[] = [];
  const transactions: RecordedTransaction[] = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    serve(raw);
  });

  function serve(socket: net.Socket | tls.TLSSocket): void {
    let buffer = Buffer.alloc(0);
    let inData = false;
    let busy = false;
    let current: { mailFrom: Buffer; rcptTo: Buffer[] } | undefined;
    const send = (line: string) => {
      if (!socket.destroyed) socket.write(Buffer.from(`${line}\r\n`, 'utf8'));
    };
    const answer = (line: Buffer, stage: RecordingStage, normal: string): string => options.reply?.(line, stage) ?? normal;

    function ehloReply(name: string): string {
      const keywords = ['PIPELINING', 'SIZE 104857600', ...(options.tls && !(socket instanceof tls.TLSSocket) ? ['STARTTLS'] : []), ...(options.extensions ?? [])];
      return [`250-recorder.test greets ${name}`, ...keywords.map((k) => `250-${k}`), '250 HELP'].join('\r\n');
    }

    function process(): void {
      while (!busy && !socket.destroyed) {
        if (inData) {
          const end = buffer.indexOf(END_OF_DATA);
          const startsEmpty = buffer.subarray(0, 3).equals(Buffer.from('.\r\n'));
          if (end < 0 && !startsEmpty) return;
          const data = startsEmpty ? Buffer.alloc(0) : Buffer.from(buffer.subarray(0, end + 2));
          buffer = buffer.subarray(startsEmpty ? 3 : end + END_OF_DATA.length);
          inData = false;
          const transaction = { ...(current ?? { mailFrom: Buffer.alloc(0), rcptTo: [] }), data };
          current = undefined;
          const reply = answer(data, 'dot', '250 2.0.0 recorded');
          const finish = () => {
            if (reply.startsWith('2')) transactions.push(transaction);
            send(reply);
          };
          if (options.dataReplyDelayMs) {
            busy = true;
            setTimeout(() => {
              busy = false;
              finish();
              process();
            }, options.dataReplyDelayMs);
            return;
          }
          finish();
          continue;
        }
        const lf = buffer.indexOf(0x0a);
        if (lf < 0) return;
        let line = buffer.subarray(0, lf);
        if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
        line = Buffer.from(line);
        buffer = buffer.subarray(lf + 1);
        commands.push(line);
        const verb = line.toString('latin1').split(/[ :]/)[0]!.toUpperCase();
        const upper = line.toString('latin1').toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') {
          current = undefined;
          send(answer(line, 'ehlo', verb === 'EHLO' ? ehloReply(line.subarray(5).toString('utf8')) : '250 recorder.test'));
        } else if (verb === 'STARTTLS' && options.tls && !(socket instanceof tls.TLSSocket)) {
          send('220 2.0.0 ready to start TLS');
          socket.removeAllListeners('data');
          const secure = new tls.TLSSocket(socket, { isServer: true, key: options.tls.key, cert: options.tls.cert });
          secure.on('error', () => undefined);
          serve(secure);
          return;
        } else if (upper.startsWith('MAIL FROM:')) {
          const reply = answer(line, 'mail', '250 2.1.0 ok');
          if (reply.startsWith('2')) current = { mailFrom: line.subarray(10), rcptTo: [] };
          send(reply);
        } else if (upper.startsWith('RCPT TO:')) {
          const reply = answer(line, 'rcpt', current ? '250 2.1.5 ok' : '503 5.5.1 need MAIL first');
          if (reply.startsWith('2')) current?.rcptTo.push(line.subarray(8));
          send(reply);
        } else if (verb === 'DATA') {
          const reply = answer(line, 'data', current?.rcptTo.length ? '354 go ahead' : '503 5.5.1 need RCPT first');
          if (reply.startsWith('354')) inData = true;
          send(reply);
        } else if (verb === 'RSET') {
          current = undefined;
          send(answer(line, 'other', '250 2.0.0 ok'));
        } else if (verb === 'NOOP') {
          send(answer(line, 'other', '250 2.0.0 ok'));
        } else if (verb === 'QUIT') {
          send('221 2.0.0 bye');
          socket.end();
          return;
        } else {
          send(answer(line, 'other', '500 5.5.2 unrecognised command'));
        }
      }
    }

    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      buffer = Buffer.concat([buffer, chunk]);
      process();
    });
    socket.on('error', () => undefined);
    if (!(socket instanceof tls.TLSSocket)) send('220 recorder.test ESMTP recording receiver');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    host,
    port,
    bytes: () => Buffer.concat(received),
    commands: () => [...commands],
    transactions: () => [...transactions],
    until: (count, timeoutMs = 20_000) => until(() => transactions.length >= count, timeoutMs, `${count} transactions at the recording receiver`),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
