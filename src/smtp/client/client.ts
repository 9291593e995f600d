import { once } from 'node:events';
import net from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { DotStuffer } from '../../mail/index.ts';
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

export interface TlsDetails {
  version: string;
  cipher: string;
  certSubject: string | null;
  /** Chain valid (system CAs + extra) and the name matches the MX name. */
  verified: boolean;
  verifyError?: string;
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
  constructor(message: string, options: { reply?: SmtpReply; temporary?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'SmtpClientError';
    this.reply = options.reply;
    this.temporary = options.temporary ?? (options.reply ? options.reply.code < 500 : true);
  }
}

export class SmtpClient {
  readonly options: ConnectOptions;
  private socket: net.Socket | tls.TLSSocket;
  private readonly reader = new ReplyReader();
  private waiter: (() => void) | null = null;
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
      throw new SmtpClientError(`cannot connect to ${options.host}:${options.port}: ${(error as Error).message}`, { cause: error });
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
        throw new SmtpClientError(`protocol error from ${this.options.servername}: ${this.reader.failure.message}`);
      }
      const reply = this.reader.shift();
      if (reply) return reply;
      if (this.closedError) throw new SmtpClientError(`${this.options.servername} [${this.options.host}]: ${this.closedError.message}`, { cause: this.closedError });
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private write(text: string): void {
    // Commands are built by us; a CR or LF in a value would be a second command.
    if (/[\r\n]/.test(text.slice(0, -2))) throw new SmtpClientError('refusing to send a command with an embedded line break', { temporary: false });
    this.socket.write(text, 'latin1');
  }

  async command(line: string): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
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
      peerChain: chainOf(cert),
    };
    await this.ehlo();
    return this.tls;
  }

  /**
   * MAIL FROM and every RCPT TO; in one write when the server offers PIPELINING.
   */
  async envelope(mailFrom: string, mailParams: string[], recipients: { address: string; params: string[] }[]): Promise<{ mail: SmtpReply; rcpts: SmtpReply[] }> {
    const mailLine = `MAIL FROM:<${mailFrom}>${mailParams.length ? ` ${mailParams.join(' ')}` : ''}\r\n`;
    const rcptLines = recipients.map((r) => `RCPT TO:<${r.address}>${r.params.length ? ` ${r.params.join(' ')}` : ''}\r\n`);
    if (this.has('PIPELINING')) {
      for (const line of [mailLine, ...rcptLines]) this.write(line);
      const mail = await this.read();
      const rcpts: SmtpReply[] = [];
      for (let i = 0; i < rcptLines.length; i++) rcpts.push(await this.read());
      return { mail, rcpts };
    }
    this.write(mailLine);
    const mail = await this.read();
    if (mail.code >= 300) return { mail, rcpts: [] };
    const rcpts: SmtpReply[] = [];
    for (const line of rcptLines) {
      this.write(line);
      rcpts.push(await this.read());
    }
    return { mail, rcpts };
  }

  /** DATA: the body goes through the dot-stuffer; returns the final reply. */
  async data(body: Readable): Promise<SmtpReply> {
    const start = await this.command('DATA');
    if (start.code !== 354) return start;
    const stuffer = new DotStuffer();
    body.on('error', (error) => stuffer.destroy(error));
    try {
      for await (const chunk of body.pipe(stuffer)) {
        if (!this.socket.write(chunk as Buffer)) {
          await Promise.race([once(this.socket, 'drain'), once(this.socket, 'close').then(() => { throw new Error('connection closed during DATA'); })]);
        }
      }
    } catch (error) {
      // The message is incomplete on the wire: the only safe thing is to drop the link.
      this.socket.destroy();
      throw new SmtpClientError(`sending the message failed: ${(error as Error).message}`, { cause: error });
    }
    return this.read();
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
        this.write('QUIT\r\n');
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

/** RFC 3461 xtext for ENVID and ORCPT values. */
export function xtext(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((b) => (b < 33 || b > 126 || b === 0x2b || b === 0x3d ? `+${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b))).join('');
}
