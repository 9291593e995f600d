import type { Server, Socket } from 'node:net';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { networkOf } from '../../accounts/index.ts';

export interface SessionLimits {
  role: 'submission' | 'inbound';
  maxCommandsPerMinute: number;
  /** Wait before the greeting (early-talker check); 0 greets at once, as Postfix's smtpd. */
  greetingDelayMs: number;
  /** Longest wait for the next complete command line (or `minRateBytes` of data) once the session is in. */
  idleTimeoutMs: number;
  /** The same before MAIL (inbound) or AUTH (submission): strangers get less time. */
  preMailIdleTimeoutMs: number;
  /** Whole time a session may spend before its first MAIL (inbound) or AUTH (submission). */
  preMailSessionTimeoutMs: number;
  /** Bytes that count as progress where no command line completes (a DATA upload). */
  minRateBytes: number;
  /** Minimum average rate of a DATA body over each `minDataRateWindowMs` (the first is the grace). */
  minDataRateBytesPerSecond: number;
  minDataRateWindowMs: number;
}

type Parser = { _dataMode?: boolean; write(chunk: Buffer, ...rest: unknown[]): boolean };
type Connection = {
  id: string;
  session: { user?: unknown; envelope: { mailFrom?: unknown } };
  _server: { options: { maxClients?: number; name?: string }; connections: Set<Connection> };
  _handlerPending?: boolean;
  _dataStream?: unknown;
  _parser?: Parser | false;
  _transactionCounter: number;
  _closing?: boolean;
  send(code: number, text: string, context?: unknown): void;
  _setListeners(callback: () => void): void;
  _createParser(): Parser;
  connectionReady(): void;
};

/** What a connection has shown of itself: when it last made progress, bytes since then. */
interface Progress {
  connectedAt: number;
  lastProgress: number;
  bytes: number;
  /** While the parser is in DATA mode: the current rate window and the bytes seen in it. */
  dataWindow?: { start: number; bytes: number };
}

const limitsByServer = new WeakMap<object, SessionLimits>();
const windows = new WeakMap<object, { start: number; count: number }>();
const progressOf = new WeakMap<object, Progress>();
let installed = false;

function progressed(connection: object): void {
  const progress = progressOf.get(connection);
  if (!progress) return;
  progress.lastProgress = Date.now();
  progress.bytes = 0;
}

/** Before MAIL (inbound) or AUTH (submission): the stage where strangers get shorter limits. */
function early(connection: Connection, role: SessionLimits['role']): boolean {
  return role === 'submission' ? !connection.session.user : !connection.session.envelope.mailFrom && connection._transactionCounter === 0;
}

/**
 * Drops sessions that make no progress. smtp-server's idle timeout is the socket's, which any
 * single byte resets, so one byte every few seconds held a slot for the whole session cap.
 * Here the deadline moves only with a complete command line or `minRateBytes` of data
 * (Postfix `smtpd_per_record_deadline`), never while the client waits for our own reply.
 */
function sweep(server: { connections: Set<Connection> }, limits: SessionLimits): void {
  const now = Date.now();
  for (const connection of server.connections) {
    const progress = progressOf.get(connection);
    if (!progress || connection._closing) continue;
    const parser = connection._parser;
    // The client is waiting for us (a hook or the message's commit): not its delay.
    if (connection._handlerPending || (connection._dataStream && parser && !parser._dataMode)) {
      progress.lastProgress = now;
      continue;
    }
    if (parser && parser._dataMode && tooSlowData(connection, progress, limits, now)) {
      connection.send(421, '4.4.2 Too slow: message data arrives below the minimum data rate; closing', false);
      continue;
    }
    const isEarly = early(connection, limits.role);
    if (isEarly && now - progress.connectedAt > limits.preMailSessionTimeoutMs) {
      connection.send(421, `4.4.2 Too long without ${limits.role === 'submission' ? 'authenticating' : 'starting a transaction'}; closing`, false);
    } else if (now - progress.lastProgress > (isEarly ? limits.preMailIdleTimeoutMs : limits.idleTimeoutMs)) {
      connection.send(421, '4.4.2 Too slow: no complete command or data within the time limit; closing', false);
    }
  }
}

/**
 * The idle timer alone lets a body trickle at `minRateBytes` per idle limit (512 per 300 s,
 * about 1.7 bytes/s), which holds a slot for the whole session cap. Postfix 3.7+
 * `smtpd_min_data_rate` (default 500 bytes/s) extends the per-request deadline by bytes
 * received / rate; here the same idea is checked as an average over fixed windows: a window
 * that saw less than rate x window ends the session (the message is not committed: the
 * stream never ends). The first window, from the 354, is the grace period.
 */
function tooSlowData(connection: Connection, progress: Progress, limits: SessionLimits, now: number): boolean {
  const window = progress.dataWindow;
  if (!window) return false;
  // Our side is slow to take the data (the queue's writes hold the socket paused): not the client's delay.
  const stream = connection._dataStream as { readableLength?: number; readableHighWaterMark?: number } | undefined;
  if (stream && (stream.readableLength ?? 0) >= (stream.readableHighWaterMark ?? Infinity)) {
    progress.dataWindow = { start: now, bytes: 0 };
    return false;
  }
  const elapsed = now - window.start;
  if (elapsed < limits.minDataRateWindowMs) return false;
  if ((window.bytes * 1000) / elapsed < limits.minDataRateBytesPerSecond) return true;
  progress.dataWindow = { start: now, bytes: 0 };
  return false;
}

/**
 * smtp-server has no per-command hook; a command flood (RSET/NOOP loops) would otherwise
 * cost nothing. Counting happens before smtp-server parses the command. The same patches
 * track each session's progress for `sweep`.
 */
export function limitSessions(server: { connections: Set<unknown> }, limits: SessionLimits): { stop(): void } {
  limitsByServer.set(server, limits);
  const period = Math.max(50, Math.min(1000, Math.floor(Math.min(limits.preMailIdleTimeoutMs, limits.idleTimeoutMs) / 4)));
  const timer = setInterval(() => sweep(server as { connections: Set<Connection> }, limits), period).unref();
  installPatches();
  return { stop: () => clearInterval(timer) };
}

function installPatches(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as {
    _onCommand(this: Connection, command: Buffer, callback?: () => void): void;
    init(this: Connection): void;
    _createParser(this: Connection): Parser;
  };
  const original = proto._onCommand;
  const originalInit = proto.init;
  const originalCreateParser = proto._createParser;
  // Every byte the client sends reaches the parser through write() (the socket is piped
  // into it, a new parser after STARTTLS): counted there, in plaintext, after TLS.
  proto._createParser = function createParser(this: Connection) {
    const parser = originalCreateParser.call(this);
    const write = parser.write;
    const connection = this;
    parser.write = function countedWrite(chunk: Buffer, ...rest: unknown[]) {
      const progress = progressOf.get(connection);
      const limits = limitsByServer.get(connection._server);
      if (progress && limits && (progress.bytes += chunk.length) >= limits.minRateBytes) progressed(connection);
      if (progress && !this._dataMode) progress.dataWindow = undefined;
      else if (progress?.dataWindow) progress.dataWindow.bytes += chunk.length;
      const result = write.call(this, chunk, ...rest);
      // DATA accepted (354 sent, parser now in data mode): the body's rate window starts here.
      if (progress && this._dataMode && !progress.dataWindow) progress.dataWindow = { start: Date.now(), bytes: 0 };
      return result;
    };
    return parser;
  };
  // smtp-server always waits 100 ms before its greeting; with one message per connection
  // (how MTAs relay) that wait alone caps a listener at 10 sessions/s per client slot.
  proto.init = function init(this: Connection) {
    const limit = limitsByServer.get(this._server);
    if (limit) progressOf.set(this, { connectedAt: Date.now(), lastProgress: Date.now(), bytes: 0 });
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
      progressed(this);
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

/** Counts open sessions per client network (IPv4 address, IPv6 /64: one host holds a whole /64). */
export class PerIpCounter {
  private readonly counts = new Map<string, number>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  tryAcquire(ip: string): boolean {
    const key = networkOf(ip);
    const count = this.counts.get(key) ?? 0;
    if (count >= this.max) return false;
    this.counts.set(key, count + 1);
    return true;
  }

  release(ip: string): void {
    const key = networkOf(ip);
    const count = (this.counts.get(key) ?? 1) - 1;
    if (count <= 0) this.counts.delete(key);
    else this.counts.set(key, count);
  }
}

/**
 * Connection slots of the whole process, over every SMTP listener: inbound strangers may take
 * at most `max - reservedForSubmission`, so a flood on port 25 cannot take the slots our own
 * users need to submit (the idea of Postfix's separate master.cf process limits per service).
 */
export class ConnectionSlots {
  private readonly max: number;
  private readonly reserved: number;
  private inbound = 0;
  private submission = 0;

  constructor(max: number, reservedForSubmission: number) {
    this.max = max;
    this.reserved = Math.min(reservedForSubmission, max);
  }

  tryAcquire(role: 'submission' | 'inbound'): boolean {
    if (this.inbound + this.submission >= this.max) return false;
    if (role === 'inbound') {
      if (this.inbound >= this.max - this.reserved) return false;
      this.inbound++;
    } else this.submission++;
    return true;
  }

  release(role: 'submission' | 'inbound'): void {
    if (role === 'inbound') this.inbound = Math.max(0, this.inbound - 1);
    else this.submission = Math.max(0, this.submission - 1);
  }

  get inUse(): { inbound: number; submission: number } {
    return { inbound: this.inbound, submission: this.submission };
  }
}

const processSlots = new Map<string, ConnectionSlots>();

/** The process-wide pool for this configuration: all listeners of one gateway share it. */
export function sharedConnectionSlots(max: number, reservedForSubmission: number): ConnectionSlots {
  const key = `${max}/${reservedForSubmission}`;
  let slots = processSlots.get(key);
  if (!slots) processSlots.set(key, (slots = new ConnectionSlots(max, reservedForSubmission)));
  return slots;
}

/** Sockets of an implicit-TLS listener whose handshake has not reached an SMTP session yet. */
export interface HandshakeGuard {
  /** The session began (onConnect): its handshake no longer counts and has no deadline. */
  established(remoteAddress: string, remotePort: number): void;
}

/**
 * onConnect sees smtp-server's normalised address, the socket the raw one: both give the same
 * network (IPv4 address, IPv6 /64), which with the port is near enough unique; the rare clash
 * is held as a list.
 */
function socketKey(address: string, port: number): string {
  return `${networkOf(address)}|${port}`;
}

type SmtpServerInternals = { server: Server; _pendingSockets?: Map<Socket, Socket> };

/**
 * Implicit TLS (port 465): until its handshake completes a socket is no SMTP session, so the
 * per-network cap and the progress deadline (onConnect, `sweep`) never saw it, and
 * smtp-server's guard is a socket timeout that any byte resets, over one pool of
 * `maxConnections` pending sockets: a single address could hold them all and lock every user
 * out. Here each network gets `maxPerNetwork` pending handshakes (more are dropped before
 * smtp-server sees them: nothing can be said before TLS), and a handshake must finish within
 * `deadlineMs` whatever it sends (nginx `ssl_handshake_timeout`).
 */
export function guardHandshakes(smtp: object, limits: { maxPerNetwork: number; deadlineMs: number }): HandshakeGuard {
  const internals = smtp as SmtpServerInternals;
  const perNetwork = new PerIpCounter(limits.maxPerNetwork);
  const pending = new Map<string, (() => void)[]>();
  const [accept] = internals.server.listeners('connection') as ((socket: Socket) => void)[];
  internals.server.removeListener('connection', accept);
  internals.server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    if (!perNetwork.tryAcquire(address)) {
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    const key = socketKey(address, socket.remotePort ?? 0);
    const release = () => {
      const entries = pending.get(key) ?? [];
      if (!entries.includes(release)) return;
      if (entries.length === 1) pending.delete(key);
      else pending.set(key, entries.filter((e) => e !== release));
      perNetwork.release(address);
      clearTimeout(timer);
      socket.removeListener('close', release);
    };
    const timer = setTimeout(() => {
      release();
      // The TLS socket smtp-server wrapped around it, never the raw one: tearing the raw socket
      // down under a TLS wrap crashed the process with SIGSEGV (att-tls-abort-crash). No
      // longer pending there means its handshake is done and the session is starting (onConnect
      // follows within smtp-server's 100 ms ready delay) or it already ended: leave it alone.
      const pendingInServer = internals._pendingSockets;
      if (pendingInServer) pendingInServer.get(socket)?.destroy();
      else socket.destroy();
    }, limits.deadlineMs).unref();
    pending.set(key, [...(pending.get(key) ?? []), release]);
    socket.once('close', release);
    accept.call(internals.server, socket);
  });
  return { established: (remoteAddress, remotePort) => pending.get(socketKey(remoteAddress, remotePort))?.[0]?.() };
}
