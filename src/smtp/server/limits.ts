import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

export interface CommandRateLimit {
  maxCommandsPerMinute: number;
  /** Wait before the greeting (early-talker check); 0 greets at once, as Postfix's smtpd. */
  greetingDelayMs: number;
}

type Connection = {
  _server: { options: { maxClients?: number; name?: string }; connections: Set<unknown> };
  send(code: number, text: string, context?: unknown): void;
  _setListeners(callback: () => void): void;
  connectionReady(): void;
};

const limitsByServer = new WeakMap<object, CommandRateLimit>();
const windows = new WeakMap<object, { start: number; count: number }>();
let installed = false;

/**
 * smtp-server has no per-command hook; a command flood (RSET/NOOP loops) would otherwise
 * cost nothing. Counting happens before smtp-server parses the command.
 */
export function limitCommandRate(server: object, limit: CommandRateLimit): void {
  limitsByServer.set(server, limit);
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as { _onCommand(this: Connection, command: Buffer, callback?: () => void): void; init(this: Connection): void };
  const original = proto._onCommand;
  const originalInit = proto.init;
  // smtp-server always waits 100 ms before its greeting; with one message per connection
  // (how MTAs relay) that wait alone caps a listener at 10 sessions/s per client slot.
  proto.init = function init(this: Connection) {
    const limit = limitsByServer.get(this._server);
    if (!limit || limit.greetingDelayMs > 0) return originalInit.call(this);
    this._setListeners(() => {
      const { maxClients, name } = this._server.options;
      if (maxClients && this._server.connections.size > maxClients) {
        this.send(421, `${name ?? ''} Too many connected clients, try again in a moment`, false);
        return;
      }
      this.connectionReady();
    });
  };
  proto._onCommand = function onCommand(this: Connection, command, callback) {
    const limit = limitsByServer.get(this._server);
    if (limit) {
      const now = Date.now();
      let window = windows.get(this);
      if (!window || now - window.start >= 60_000) {
        window = { start: now, count: 0 };
        windows.set(this, window);
      }
      if (++window.count > limit.maxCommandsPerMinute) {
        this.send(421, '4.7.0 Too many commands; slow down and try again later', false);
        return;
      }
    }
    original.call(this, command, callback);
  };
}

/** Counts open sessions per client address. */
export class PerIpCounter {
  private readonly counts = new Map<string, number>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  tryAcquire(ip: string): boolean {
    const count = this.counts.get(ip) ?? 0;
    if (count >= this.max) return false;
    this.counts.set(ip, count + 1);
    return true;
  }

  release(ip: string): void {
    const count = (this.counts.get(ip) ?? 1) - 1;
    if (count <= 0) this.counts.delete(ip);
    else this.counts.set(ip, count);
  }
}
