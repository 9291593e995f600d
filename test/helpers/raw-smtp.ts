import net from 'node:net';
import tls from 'node:tls';

/**
 * A deliberately dumb SMTP client for tests: writes exactly the bytes given (bare LF,
 * pipelining, garbage) and collects reply lines, so hostile clients can be imitated.
 */
export class RawSmtp {
  private socket: net.Socket | tls.TLSSocket;
  private buffer = '';
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  greeting = '';

  private constructor(socket: net.Socket | tls.TLSSocket) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (data: Buffer) => {
      this.buffer += data.toString('latin1');
      let index: number;
      while ((index = this.buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, index));
        this.buffer = this.buffer.slice(index + 2);
      }
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('error', () => undefined);
  }

  /** `localAddress` binds the client end (e.g. 127.0.0.7) so one test can be many clients. */
  static async connect(port: number, options: { implicitTls?: boolean; host?: string; localAddress?: string } = {}): Promise<RawSmtp> {
    const host = options.host ?? '127.0.0.1';
    const bind = options.localAddress ? { localAddress: options.localAddress } : {};
    const socket = options.implicitTls ? tls.connect({ port, host, ...bind, rejectUnauthorized: false }) : net.connect({ port, host, ...bind });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.implicitTls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const client = new RawSmtp(socket);
    client.greeting = await client.reply();
    return client;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next complete reply (multi-line joined by \n); '' when the server closed. */
  async reply(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const collected: string[] = [];
    for (;;) {
      while (this.lines.length) {
        const line = this.lines.shift()!;
        collected.push(line);
        if (/^\d{3} /.test(line) || !/^\d{3}-/.test(line)) return collected.join('\n');
      }
      if (this.closed) return collected.join('\n');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms (got ${JSON.stringify(collected)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async command(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  async startTls(): Promise<void> {
    const answer = await this.command('STARTTLS');
    if (!answer.startsWith('220')) throw new Error(`STARTTLS refused: ${answer}`);
    this.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: this.socket as net.Socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.buffer = '';
    this.lines = [];
    this.attach(secure);
  }

  get tlsSocket(): tls.TLSSocket | null {
    return this.socket instanceof tls.TLSSocket ? this.socket : null;
  }

  close(): void {
    this.socket.destroy();
  }
}
