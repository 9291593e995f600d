import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { addressForPeer, DotStuffer, isAscii } from '../../mail/index.ts';
import { ReplyReader, type SmtpReply } from './reply-reader.ts';

/*
 * Our own outbound client rather than nodemailer's SMTPConnection: receipts need every
 * reply line verbatim and per recipient, the TLS details of each attempt, a hard guarantee
 * that bytes received before the TLS handshake are dropped (CVE-2011-0411 class), and
 * connection reuse under the delivery worker's control.
 */

export interface ConnectOptions {
  /** IP address to connect to. */
  host: string;
  port: number;
  /** The MX name: SNI and certificate name check. */
  servername: string;
  heloName: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** The reply to the end of DATA, with the digest of what was sent (null: DATA was refused). */
export type DataReply = SmtpReply & { sentSha256: string | null };

export interface TlsDetails {
  version: string;
  cipher: string;
  certSubject: string | null;
  /** Chain valid (system CAs + extra) and the name matches the MX name. */
  verified: boolean;
  verifyError?: string;
  /** Why the chain did not verify against the trusted CAs (the name check aside). */
  chainError?: string;
  /** The peer's chain as DER, leaf first, as sent (DANE matches against it). */
  peerChain: Buffer[];
}

function chainOf(leaf: tls.DetailedPeerCertificate | undefined): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<tls.DetailedPeerCertificate>();
  for (let cert = leaf; cert?.raw && !seen.has(cert); cert = cert.issuerCertificate) {
    seen.add(cert);
    chain.push(cert.raw);
  }
  return chain;
}

export class SmtpClientError extends Error {
  readonly reply?: SmtpReply;
  readonly temporary: boolean;
  /** The TCP connection itself failed (refused, unroutable, timed out): the server was never reached. */
  readonly unreachable: boolean;
  constructor(message: string, options: { reply?: SmtpReply; temporary?: boolean; cause?: unknown; unreachable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'SmtpClientError';
    this.reply = options.reply;
    this.temporary = options.temporary ?? (options.reply ? options.reply.code < 500 : true);
    this.unreachable = options.unreachable ?? false;
  }
}

export class SmtpClient {
  readonly options: ConnectOptions;
  private socket: net.Socket | tls.TLSSocket;
  private readonly reader = new ReplyReader();
  private waiter: (() => void) | null = null;
  /** Replies still owed to us: the greeting, then one per command line written. */
  private awaited = 1;
  private closedError: Error | null = null;
  capabilities = new Map<string, string>();
  tls: TlsDetails | null = null;
  greeting: SmtpReply | null = null;

  private constructor(socket: net.Socket, options: ConnectOptions) {
    this.socket = socket;
    this.options = options;
    this.attach(socket);
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setTimeout(this.options.commandTimeoutMs);
    socket.on('data', (data: Buffer) => {
      this.reader.push(data);
      // Every reply answers a command we sent (or the greeting). One more than that is the
      // server, or someone on the path, talking out of turn: nothing after it can be trusted
      // to answer what we think it answers (docs/architecture.md §9), so the attempt ends here.
      if (this.reader.pending > this.awaited) {
        this.reader.fail(new Error(`reply out of step (${this.reader.pending} replies for ${this.awaited} commands)`));
        socket.destroy();
      }
      this.wake();
    });
    socket.on('timeout', () => socket.destroy(new Error(`no answer within ${this.options.commandTimeoutMs} ms`)));
    socket.on('error', (error) => {
      this.closedError ??= error;
      this.wake();
    });
    socket.on('close', () => {
      this.closedError ??= new Error('connection closed by the server');
      this.wake();
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  static async connect(options: ConnectOptions): Promise<SmtpClient> {
    const socket = net.connect({ host: options.host, port: options.port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(new Error(`connect timeout after ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
    try {
      await once(socket, 'connect');
    } catch (error) {
      throw new SmtpClientError(`cannot connect to ${options.host}:${options.port}: ${(error as Error).message}`, { cause: error, unreachable: true });
    } finally {
      clearTimeout(timer);
    }
    const client = new SmtpClient(socket, options);
    const greeting = await client.read();
    client.greeting = greeting;
    if (greeting.code !== 220) {
      client.close();
      throw new SmtpClientError(`greeting refused: ${greeting.raw}`, { reply: greeting });
    }
    return client;
  }

  get alive(): boolean {
    return !this.closedError && !this.socket.destroyed;
  }

  /** The next complete reply, or a transient error when the connection fails first. */
  async read(): Promise<SmtpReply> {
    for (;;) {
      if (this.reader.failure) {
        this.socket.destroy();
        this.closedError ??= this.reader.failure;
        throw new SmtpClientError(`protocol error from ${this.options.servername}: ${this.reader.failure.message}`);
      }
      const reply = this.reader.shift();
      if (reply) {
        this.awaited--;
        return reply;
      }
      if (this.closedError) throw new SmtpClientError(`${this.options.servername} [${this.options.host}]: ${this.closedError.message}`, { cause: this.closedError });
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /**
   * Writes one command line as UTF-8 bytes and checks the bytes, not the string: a string
   * check misses what an encoding turns into CR or LF (latin1 made U+010D a CR). Nothing but
   * printable ASCII goes out unless `utf8` says the transaction carries SMTPUTF8.
   */
  private write(line: string, options: { utf8?: boolean } = {}): void {
    const bytes = commandBytes(line, options.utf8 === true);
    this.awaited++;
    this.socket.write(bytes);
  }

  async command(line: string): Promise<SmtpReply> {
    this.write(line);
    return this.read();
  }

  async ehlo(): Promise<SmtpReply> {
    let reply = await this.command(`EHLO ${this.options.heloName}`);
    this.capabilities = new Map();
    if (reply.code >= 500) {
      reply = await this.command(`HELO ${this.options.heloName}`);
    } else if (reply.code === 250) {
      for (const line of reply.lines.slice(1)) {
        const [keyword, ...rest] = line.trim().split(/\s+/);
        if (keyword) this.capabilities.set(keyword.toUpperCase(), rest.join(' '));
      }
    }
    if (reply.code !== 250) throw new SmtpClientError(`EHLO/HELO refused: ${reply.raw}`, { reply });
    return reply;
  }

  has(extension: string): boolean {
    return this.capabilities.has(extension);
  }

  /** STARTTLS, then EHLO again. Throws SmtpClientError when refused or the handshake fails. */
  async startTls(options: { ca?: (string | Buffer)[] }): Promise<TlsDetails> {
    const reply = await this.command('STARTTLS');
    if (reply.code !== 220) throw new SmtpClientError(`STARTTLS refused: ${reply.raw}`, { reply });
    // Anything already received after the 220 arrived in plaintext from whoever sits on the
    // path; it must never be read as an answer to what we send over TLS.
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('timeout');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    this.reader.discard();
    this.awaited = 0;
    const secure = tls.connect({
      socket: plain,
      servername: net.isIP(this.options.servername) ? undefined : this.options.servername,
      rejectUnauthorized: false, // decided below, per policy, with the reason recorded
      minVersion: 'TLSv1.2',
      ca: options.ca?.length ? [...tls.rootCertificates, ...options.ca] : undefined,
    });
    const timer = setTimeout(() => secure.destroy(new Error('TLS handshake timeout')), this.options.connectTimeoutMs);
    try {
      await once(secure, 'secureConnect');
    } catch (error) {
      plain.destroy();
      this.closedError = error as Error;
      throw new SmtpClientError(`TLS handshake with ${this.options.servername} failed: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    this.reader.discard();
    this.socket = secure;
    this.attach(secure);
    const cert = secure.getPeerCertificate(true);
    // Say why in words: Node reports a name mismatch only as a code.
    const identityError = tls.checkServerIdentity(this.options.servername, cert)?.message;
    const chainError = secure.authorized || String(secure.authorizationError) === 'ERR_TLS_CERT_ALTNAME_INVALID' ? undefined : String(secure.authorizationError ?? 'certificate not trusted');
    const verifyError = chainError ?? identityError;
    const cipher = secure.getCipher();
    this.tls = {
      version: secure.getProtocol() ?? 'unknown',
      cipher: cipher.standardName ?? cipher.name,
      certSubject: cert?.subject ? Object.entries(cert.subject).map(([k, v]) => `${k}=${String(v)}`).join(', ') : null,
      verified: !verifyError,
      verifyError,
      chainError,
      peerChain: chainOf(cert),
    };
    await this.ehlo();
    return this.tls;
  }

  /**
   * MAIL FROM and every RCPT TO; in one write when the server offers PIPELINING. Each address
   * is first put in the form this server can take (`addressForPeer`): one that cannot be
   * written for it gets a 553 5.6.7 made here, never sent (RFC 6531 §3.5), and SMTPUTF8 is
   * added to MAIL whenever a UTF-8 address goes out.
   */
  async envelope(mailFrom: string, mailParams: string[], recipients: { address: string; params: string[] }[]): Promise<{ mail: SmtpReply; rcpts: SmtpReply[] }> {
    const peerUtf8 = this.has('SMTPUTF8');
    const sender = mailFrom === '' ? '' : addressForPeer(mailFrom, peerUtf8);
    if (sender === null) {
      return { mail: localRefusal(`Sender address is not ASCII and ${this.options.servername} does not offer SMTPUTF8 (RFC 6531)`), rcpts: [] };
    }
    const targets = recipients.map((r) => ({ address: addressForPeer(r.address, peerUtf8), params: r.params }));
    const utf8 = peerUtf8 && (!isAscii(sender) || targets.some((t) => t.address !== null && !isAscii(t.address)));
    const params = utf8 && !mailParams.some((p) => p.toUpperCase() === 'SMTPUTF8') ? [...mailParams, 'SMTPUTF8'] : mailParams;
    const mailLine = `MAIL FROM:<${sender}>${params.length ? ` ${params.join(' ')}` : ''}`;
    const rcptLines = targets.map((t) => (t.address === null ? null : `RCPT TO:<${t.address}>${t.params.length ? ` ${t.params.join(' ')}` : ''}`));
    const unwritable = () => localRefusal(`Recipient address is not ASCII and ${this.options.servername} does not offer SMTPUTF8 (RFC 6531)`);
    // Encode (and refuse) everything before the first byte goes out: no half-sent envelope.
    for (const line of [mailLine, ...rcptLines]) if (line !== null) commandBytes(line, utf8);
    const rcpts: SmtpReply[] = [];
    if (this.has('PIPELINING')) {
      // One write for the whole envelope, not one per command: a write on loopback costs
      // tens of µs of the event loop (issue 14).
      this.socket.cork();
      for (const line of [mailLine, ...rcptLines]) if (line !== null) this.write(line, { utf8 });
      this.socket.uncork();
      const mail = await this.read();
      for (const line of rcptLines) rcpts.push(line === null ? unwritable() : await this.read());
      return { mail, rcpts };
    }
    this.write(mailLine, { utf8 });
    const mail = await this.read();
    if (mail.code >= 300) return { mail, rcpts: [] };
    for (const line of rcptLines) {
      if (line === null) {
        rcpts.push(unwritable());
        continue;
      }
      this.write(line, { utf8 });
      rcpts.push(await this.read());
    }
    return { mail, rcpts };
  }

  /** DATA: the body goes through the dot-stuffer; returns the final reply. */
  /**
   * Sends the body; the reply carries `sentSha256`, the SHA-256 of the DATA bytes written to the
   * socket (dot-stuffed, CRLF line ends) without the final `.CRLF`: the proof of what was sent.
   */
  async data(body: Readable): Promise<DataReply> {
    const start = await this.command('DATA');
    if (start.code !== 354) {
      // RFC 5321 §4.3.2: DATA is answered 354, or refused with 4xx/5xx (kept, so a 554 still
      // bounces). Anything else, a 250 above all, would make "delivered" of a body never sent.
      if (start.code >= 400) return { ...start, sentSha256: null };
      this.socket.destroy();
      throw new SmtpClientError(`${this.options.servername} answered DATA with ${start.raw.slice(0, 200)} instead of 354; the message was not sent`, { reply: start, temporary: true });
    }
    const stuffer = new DotStuffer();
    body.on('error', (error) => stuffer.destroy(error));
    const digest = createHash('sha256');
    // The last 3 bytes written are held back from the digest: at the end they are the `.CRLF`.
    let unhashed: Buffer = Buffer.alloc(0);
    try {
      // The final reply is owed only once the terminating CRLF.CRLF goes out (dot-stuffing
      // makes it unique): a reply that comes while the body is still being sent is out of step.
      let tail: Buffer = CRLF;
      for await (const chunk of body.pipe(stuffer) as AsyncIterable<Buffer>) {
        // Copies only when a chunk is shorter than what is checked or held back (issue 14:
        // two whole-chunk copies per chunk before).
        const seen = chunk.length >= END_OF_DATA.length ? chunk : Buffer.concat([tail, chunk]);
        tail = seen.subarray(-4);
        if (chunk.length >= 3) {
          digest.update(unhashed);
          digest.update(chunk.subarray(0, chunk.length - 3));
          unhashed = chunk.subarray(chunk.length - 3);
        } else {
          const pending = Buffer.concat([unhashed, chunk]);
          digest.update(pending.subarray(0, Math.max(0, pending.length - 3)));
          unhashed = pending.subarray(Math.max(0, pending.length - 3));
        }
        if (seen.subarray(-5).equals(END_OF_DATA)) this.awaited++;
        if (!this.socket.write(chunk)) {
          await Promise.race([once(this.socket, 'drain'), once(this.socket, 'close').then(() => { throw new Error('connection closed during DATA'); })]);
        }
      }
    } catch (error) {
      // The message is incomplete on the wire: the only safe thing is to drop the link.
      this.socket.destroy();
      throw new SmtpClientError(`sending the message failed: ${(error as Error).message}`, { cause: error });
    }
    const sentSha256 = digest.digest('hex');
    return { ...(await this.read()), sentSha256 };
  }

  async rset(): Promise<boolean> {
    try {
      return (await this.command('RSET')).code === 250;
    } catch {
      return false;
    }
  }

  async quit(): Promise<void> {
    try {
      if (this.alive) {
        this.write('QUIT');
        await Promise.race([this.read(), new Promise((r) => setTimeout(r, 1000))]);
      }
    } catch {
      // closing anyway
    } finally {
      this.close();
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A refusal made by us for an address this server cannot take; marked so nobody reads it as the server's. */
function localRefusal(text: string): SmtpReply {
  const line = `553 5.6.7 ${text}`;
  return { code: 553, enhanced: '5.6.7', lines: [text], raw: line, local: true };
}

/**
 * One command line as wire bytes with its CRLF. Refuses (permanently: the same input will
 * always fail) any control byte, NUL, CR or LF after encoding, and any 8-bit byte unless the
 * transaction carries SMTPUTF8.
 */
export function commandBytes(line: string, utf8: boolean): Buffer {
  const bytes = Buffer.from(line, 'utf8');
  for (const byte of bytes) {
    if (byte < 0x20 || byte === 0x7f) throw new SmtpClientError('refusing to send a command with an embedded line break or control character', { temporary: false });
    if (byte > 0x7f && !utf8) throw new SmtpClientError('refusing to send 8-bit data in a command without SMTPUTF8', { temporary: false });
  }
  return Buffer.concat([bytes, CRLF]);
}

const CRLF = Buffer.from([0x0d, 0x0a]);
const END_OF_DATA = Buffer.from('\r\n.\r\n');

/** RFC 3461 xtext for ENVID and ORCPT values. */
export function xtext(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((b) => (b < 33 || b > 126 || b === 0x2b || b === 0x3d ? `+${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b))).join('');
}
