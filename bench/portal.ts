/**
 * bench/portal: the Secure Message Pickup portal over HTTPS on loopback. The web service runs
 * in its own process (SQLite store in a temp dir, random master key, self-signed certificate)
 * and every client in another, so the server's event loop and peak RSS are its own.
 *
 *   node bench/portal.ts [--seconds 10] [--rate 500] [--runs 1] [--page-only] [--connections 20] [--downloads 20] [--mb 100] [--profile]
 *
 * The same file is also the two child processes: `portal.ts serve <dir>` (the web service)
 * and `portal.ts download <url> <count> [hash]` (HTTPS downloads that discard the bytes).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import https from 'node:https';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import { tempDir } from '../test/helpers/ports.ts';
import { arg, figure, flag, peakRssMb } from './lib.ts';
import { AuditLog, auditSigner } from '../src/audit/index.ts';

const run = promisify(execFile);
const SELF = import.meta.filename;
const HOST = '127.0.0.1';
const MB = 1024 * 1024;
const COOKIE_ENV = 'SEALGATE_BENCH_COOKIE';
const KEY_ENV = 'SEALGATE_BENCH_MASTER_KEY';
const PER_IP_CAP = 32;
// The self-signed certificate of a throwaway server on loopback: nothing to verify it against.
const agentOptions = { rejectUnauthorized: false };

// ───────────────────────────── child: the web service ─────────────────────────────

/** The portal as the gateway runs it, minus SMTP: prints `{"port":N}` once listening. */
async function serve(dir: string): Promise<void> {
  // As `sealgate serve` runs (src/sealgate.ts): the young generation kept at its starting size
  // and the old one marked at 1.5x its live size, set before the modules load.
  // SEALGATE_BENCH_SERVER_FLAGS with a flag for either wins (src/heap-growth.ts).
  const { boundHeapGrowth } = await import('../src/heap-growth.ts');
  boundHeapGrowth();
  const { parseConfig } = await import('../src/config/index.ts');
  const { Users } = await import('../src/accounts/index.ts');
  const { PickupStore } = await import('../src/pickup/index.ts');
  const { openSqliteStore } = await import('../src/store/sqlite/index.ts');
  const { ensureSelfSignedCertificate } = await import('../src/vault/index.ts');
  const { createWebService } = await import('../src/web/index.ts');
  const { systemClock } = await import('../src/kernel/index.ts');
  const masterKey = Buffer.from(process.env[KEY_ENV] ?? '', 'hex');
  if (masterKey.length !== 32) throw new Error(`${KEY_ENV} must hold the 32-byte master key in hex`);
  const store = await openSqliteStore(path.join(dir, 'sealgate.db'));
  const pickup = new PickupStore({ store, masterKey, dataDir: dir });
  const config = parseConfig({ hostname: 'portal.bench.test', dataDir: dir, web: { host: HOST, port: 0, maxConnectionsPerIp: PER_IP_CAP } });
  // Made by the parent already: the server does not load the X.509 library (as after a restart).
  const pair = await ensureSelfSignedCertificate(dir, HOST);
  const logger = {
    info() {}, debug() {},
    warn: (obj: object, msg?: string) => console.error('server warn:', msg, JSON.stringify(obj)),
    error: (obj: object, msg?: string) => console.error('server error:', msg, JSON.stringify(obj)),
    child() { return logger; },
  };
  const web = createWebService({
    config, store, pickup, users: new Users(store, systemClock), logger, clock: systemClock,
    audit: new AuditLog({ store, node: 'bench', clock: systemClock, signer: auditSigner(masterKey) }),
    tls: { key: pair.keyPem, cert: pair.certPem },
    sendMail: async () => { throw new Error('the benchmark portal sends no mail'); },
  });
  await web.start();
  const stopSampling = await sampleAllocations(process.env.SEALGATE_BENCH_ALLOCATIONS);
  answerStats(stopSampling);
  console.log(JSON.stringify({ port: web.listening().port }));
  process.once('SIGTERM', () => {
    // A clean exit, so --cpu-prof writes its profile.
    stopSampling().then(() => web.stop()).then(() => store.close()).finally(() => process.exit(0));
  });
}

/**
 * With a file name: V8's sampling heap profiler over every allocation, those the GC collected
 * included (a `--heap-prof` profile keeps only what is still live), written to that file at the
 * stop (`.heapprofile`, DevTools' Memory tab opens it): where the bytes per request come from.
 */
async function sampleAllocations(file: string | undefined): Promise<() => Promise<void>> {
  if (!file) return async () => undefined;
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  // `live:` in front of the name: only what no GC has collected yet at the stop, i.e. what is
  // live plus what was promoted and awaits the next Mark-Compact.
  const live = file.startsWith('live:');
  if (live) file = file.slice('live:'.length);
  const path = file;
  await session.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: !live, includeObjectsCollectedByMinorGC: !live });
  let written = false;
  return async () => {
    if (written) return;
    written = true;
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(path, JSON.stringify(profile));
  };
}

/** What the server's heap did between two `stats` lines on its stdin (see `GcStats`). */
export interface GcStats {
  scavenges: number;
  markCompacts: number;
  /** Sum and longest of the Mark-Compact pauses, ms. */
  markCompactMs: number;
  longestMarkCompactMs: number;
  scavengeMs: number;
  /** Bytes allocated on the V8 heap (the used size before each GC minus after the one before). */
  allocatedBytes: number;
  /** Old-generation growth across scavenges: what survived the young generation twice. */
  promotedBytes: number;
  cpuMs: number;
}

/**
 * The server answers each `stats` line on stdin with `{"stats":GcStats}` for the time since the
 * one before, from v8.GCProfiler: figures that another process's load hardly moves, unlike the
 * latency (a busy machine makes pauses longer, not more frequent).
 */
function answerStats(onFirst: () => Promise<void>): void {
  let asked = 0;
  let profiler = new v8.GCProfiler();
  profiler.start();
  let cpu = process.cpuUsage();
  let usedAfterLast = v8.getHeapStatistics().used_heap_size;
  const oldUsed = (spaces: { spaceName: string; spaceUsedSize: number }[]) => spaces.filter((s) => s.spaceName === 'old_space' || s.spaceName === 'large_object_space').reduce((sum, s) => sum + s.spaceUsedSize, 0);
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== 'stats') return;
    // The second request ends the first run: a live-only allocation profile is taken then,
    // while promoted garbage still waits in the old generation.
    if (++asked === 2) void onFirst();
    const { statistics } = profiler.stop()!;
    const stats: GcStats = { scavenges: 0, markCompacts: 0, markCompactMs: 0, longestMarkCompactMs: 0, scavengeMs: 0, allocatedBytes: 0, promotedBytes: 0, cpuMs: 0 };
    for (const gc of statistics) {
      const ms = gc.cost / 1000;
      stats.allocatedBytes += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - usedAfterLast);
      usedAfterLast = gc.afterGC.heapStatistics.usedHeapSize;
      if (gc.gcType === 'Scavenge' || gc.gcType === 'MinorMarkSweep') {
        stats.scavenges++;
        stats.scavengeMs += ms;
        stats.promotedBytes += Math.max(0, oldUsed(gc.afterGC.heapSpaceStatistics) - oldUsed(gc.beforeGC.heapSpaceStatistics));
      } else if (gc.gcType === 'MarkSweepCompact') {
        stats.markCompacts++;
        stats.markCompactMs += ms;
        stats.longestMarkCompactMs = Math.max(stats.longestMarkCompactMs, ms);
      }
    }
    const used = v8.getHeapStatistics().used_heap_size;
    stats.allocatedBytes += Math.max(0, used - usedAfterLast);
    usedAfterLast = used;
    const spent = process.cpuUsage(cpu);
    stats.cpuMs = (spent.user + spent.system) / 1000;
    cpu = process.cpuUsage();
    profiler = new v8.GCProfiler();
    profiler.start();
    console.log(JSON.stringify({ stats }));
  });
}

// ───────────────────────────── child: download client ─────────────────────────────

/** `count` parallel GETs of `url`, bytes discarded (hashed when asked); prints a JSON summary. */
async function downloadClient(url: string, count: number, hash: boolean): Promise<void> {
  const cookie = process.env[COOKIE_ENV] ?? '';
  const agent = new https.Agent({ ...agentOptions, maxSockets: count });
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: count }, () => new Promise<{ status: number; bytes: number; sha256?: string }>((resolve, reject) => {
    https.get(url, { agent, headers: { cookie } }, (response) => {
      const digest = hash ? createHash('sha256') : undefined;
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        digest?.update(chunk);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes, sha256: digest?.digest('hex') }));
      response.on('error', reject);
    }).on('error', reject);
  })));
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  console.log(JSON.stringify({ seconds, results }));
}

/**
 * Open-loop load at a fixed rate: requests leave evenly spaced (every 1000/rate ms) whatever
 * the answers do, and each latency counts from when its request was due, so a stalled server
 * is charged for the queue it builds (no coordinated omission). autocannon's `-R` instead lets
 * each connection send its whole second's quota at once and then wait, which measures bursts
 * of 20 concurrent requests, not a 500 req/s arrival rate.
 */
async function paceClient(url: string, rate: number, seconds: number, warm: number): Promise<void> {
  const cookie = process.env[COOKIE_ENV] ?? '';
  // At most the portal's per-IP cap (web.maxConnectionsPerIp, 32 by default): one more is
  // refused before its handshake, and a stall would fail the run instead of measuring it. A
  // request finding every socket busy waits in the agent; its latency still runs from when it was due.
  const agent = new https.Agent({ ...agentOptions, keepAlive: true, maxSockets: PER_IP_CAP });
  // `warm` connections opened before the clock starts. A cold client opened all 32 in the
  // first 100-250 ms of the run, 32 full TLS handshakes at once that made the slowest 1% of
  // the run by themselves (their requests due at 0-200 ms): the client's start, not the page.
  await Promise.all(Array.from({ length: warm }, () => new Promise<void>((resolve, reject) => {
    https.get(url, { agent, headers: { cookie } }, (response) => {
      response.resume();
      response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`the warm-up request answered ${response.statusCode}`))));
    }).on('error', reject);
  })));
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const timed: [number, number][] = [];
  let failures = 0;
  // New connections (each a TLS handshake on the server) open whenever every socket is busy.
  const sockets = new WeakSet<object>();
  let connections = 0;
  let resumed = 0;
  const opened: number[] = [];
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(new Promise<void>((resolve) => {
      https.get(url, { agent, headers: { cookie } }, (response) => {
        response.on('data', () => undefined);
        response.on('end', () => {
          if (response.statusCode !== 200) failures++;
          latencies.push(performance.now() - due);
          timed.push([due - start, performance.now() - due]);
          resolve();
        });
      }).on('socket', (socket) => {
        if (sockets.has(socket)) return;
        sockets.add(socket);
        connections++;
        socket.once('secureConnect', () => {
          if ((socket as unknown as { isSessionReused(): boolean }).isSessionReused()) resumed++;
          opened.push(Math.round(performance.now() - start));
        });
      }).on('error', () => {
        failures++;
        resolve();
      });
    }));
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  // When the slowest 1% were due (ms into the run, rounded to 100 ms): the stalls.
  const slowAt = [...new Set(timed.toSorted((a, b) => b[1] - a[1]).slice(0, Math.ceil(timed.length / 100)).map(([due]) => Math.round(due / 100) * 100))].sort((a, b) => a - b);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  console.log(JSON.stringify({ served: latencies.length / elapsed, requests: latencies.length, failures, connections, resumed, opened, slowAt, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) }));
}

// ───────────────────────────── the orchestrator ─────────────────────────────

interface Server {
  child: ChildProcess;
  port: number;
  /** The server's GC figures since the call before (or its start). */
  stats(): Promise<GcStats>;
  stop(): Promise<void>;
}

async function startServer(dir: string, masterKey: Buffer, profileDir?: string): Promise<Server> {
  const execArgv = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...(process.env.SEALGATE_BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? [])];
  const child = spawn(process.execPath, [...execArgv, SELF, 'serve', dir], { env: { ...process.env, [KEY_ENV]: masterKey.toString('hex') }, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines: Interface = createInterface({ input: child.stdout! });
  let statsWanted: ((stats: GcStats) => void) | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    // Anything else the server prints (e.g. --trace-gc from SEALGATE_BENCH_SERVER_FLAGS) is passed on.
    lines.on('line', (line) => {
      if (line.startsWith('{"port"')) resolve((JSON.parse(line) as { port: number }).port);
      else if (line.startsWith('{"stats"')) statsWanted?.((JSON.parse(line) as { stats: GcStats }).stats);
      else process.stderr.write(`server: ${line}\n`);
    });
    child.once('exit', (code) => reject(new Error(`the portal server exited with code ${code} before listening; see its stderr above`)));
  });
  return {
    child, port,
    stats: () => new Promise<GcStats>((resolve) => {
      statsWanted = resolve;
      child.stdin!.write('stats\n');
    }),
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function request(port: number, method: 'GET' | 'POST', pathname: string, cookie: string, form?: Record<string, string>): Promise<HttpResult> {
  const payload = form ? new URLSearchParams(form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: HOST, port, method, path: pathname, ...agentOptions,
      headers: { cookie, ...(payload ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(payload) } : {}) },
    }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Cookies as a browser keeps them: name → value from each Set-Cookie. */
function takeCookies(jar: Map<string, string>, result: HttpResult): void {
  for (const line of (result.headers['set-cookie'] as string[] | undefined) ?? []) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
}
const cookieHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

/** Verification 'link' done once as a browser does it: the form (CSRF cookie), then the POST. */
async function openSession(port: number, id: string, messagePassword: string): Promise<string> {
  const jar = new Map<string, string>();
  const form = await request(port, 'GET', `/m/${id}`, '');
  if (form.status !== 200) throw new Error(`GET /m/${id} answered ${form.status}, expected the open form`);
  takeCookies(jar, form);
  const csrf = jar.get('__Host-sg-csrf');
  if (!csrf) throw new Error('the open form set no __Host-sg-csrf cookie');
  const opened = await request(port, 'POST', `/m/${id}`, cookieHeader(jar), { _csrf: csrf, password: messagePassword });
  if (opened.status !== 303) throw new Error(`POST /m/${id} answered ${opened.status}, expected 303 to the reading page`);
  takeCookies(jar, opened);
  if (!jar.get('__Host-sg-read')) throw new Error('opening the message set no __Host-sg-read cookie');
  return cookieHeader(jar);
}

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}

/** autocannon's CLI in its own process; with `rate`, latencies are corrected for coordinated omission. */
async function cannon(url: string, cookie: string, options: { seconds: number; connections: number; rate?: number }): Promise<CannonResult> {
  const bin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const args = [bin, '--json', '-c', String(options.connections), '-d', String(options.seconds), '-H', `cookie=${cookie}`];
  if (options.rate) args.push('-R', String(options.rate));
  const { stdout } = await run(process.execPath, [...args, url], { maxBuffer: 64 * MB, timeout: (options.seconds + 60) * 1000 });
  const result = JSON.parse(stdout) as CannonResult;
  if (result.non2xx || result.errors || result.timeouts) {
    throw new Error(`autocannon saw ${result.non2xx} non-2xx answers, ${result.errors} errors and ${result.timeouts} timeouts against ${url}: the session or the server failed`);
  }
  return result;
}

/** The open-loop client in its own process. */
interface PacedResult {
  served: number;
  requests: number;
  failures: number;
  connections: number;
  resumed: number;
  opened: number[];
  slowAt: number[];
  p50: number;
  p99: number;
  max: number;
}

async function paced(url: string, cookie: string, rate: number, seconds: number, warm: number): Promise<PacedResult> {
  const { stdout } = await run(process.execPath, [SELF, 'pace', url, String(rate), String(seconds), String(warm)], { env: { ...process.env, [COOKIE_ENV]: cookie }, maxBuffer: MB, timeout: (seconds + 60) * 1000 });
  const result = JSON.parse(stdout) as PacedResult;
  if (result.failures) throw new Error(`${result.failures} paced requests to ${url} failed: the session or the server failed`);
  return result;
}

interface DownloadResult {
  seconds: number;
  results: { status: number; bytes: number; sha256?: string }[];
}

async function downloads(url: string, cookie: string, count: number, hash = false): Promise<DownloadResult> {
  const { stdout } = await run(process.execPath, [SELF, 'download', url, String(count), ...(hash ? ['hash'] : [])], { env: { ...process.env, [COOKIE_ENV]: cookie }, maxBuffer: MB, timeout: 10 * 60_000 });
  const result = JSON.parse(stdout) as DownloadResult;
  const bad = result.results.find((r) => r.status !== 200);
  if (bad) throw new Error(`a download answered ${bad.status}: the session or the server failed`);
  return result;
}

const TEXT_BODY = `Hello Bob,\n\n${'Please find the quarterly figures attached. The totals in section 3 changed since the draft; the rest is as discussed on Monday.\n'.repeat(20)}\nRegards,\nAlice\n`;
const HTML_BODY = `<html><body><div style="font-family:sans-serif"><p>Hello Bob,</p>${'<p>Please find the <b>quarterly figures</b> attached. The totals in <a href="https://example.test/s3">section 3</a> changed since the draft.</p>'.repeat(12)}<table><tr><th>Quarter</th><th>Total</th></tr>${'<tr><td>Q3</td><td>1,234</td></tr>'.repeat(10)}</table><img src="https://tracker.example.test/open.gif" width="1" height="1"><p>Regards,<br>Alice</p></div></body></html>`;

/** `megabytes` of random bytes as a stream, hashed as it is produced. */
function randomAttachment(megabytes: number): { stream: Readable; sha256: () => string } {
  const digest = createHash('sha256');
  const stream = Readable.from((function* chunks() {
    for (let i = 0; i < megabytes; i++) {
      const chunk = randomBytes(MB);
      digest.update(chunk);
      yield chunk;
    }
  })());
  return { stream, sha256: () => digest.digest('hex') };
}

function memoryLine(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (key: string) => (Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1]) / 1024).toFixed(0);
  return `VmRSS ${mb('VmRSS')} MB, VmHWM ${mb('VmHWM')} MB`;
}

/** CPU seconds a process has used (user + system), from /proc/<pid>/stat at 100 ticks/s; with `children`, also its reaped children's. */
function cpuSeconds(pid: number | 'self', children = false): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number);
  return (fields[11] + fields[12] + (children ? fields[13] + fields[14] : 0)) / 100;
}

/** Busy CPU seconds of the machine, from /proc/stat. */
function machineBusy(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return (ticks.reduce((a, b) => a + b, 0) - ticks[3] - ticks[4]) / 100;
}

/** Waits (up to 30 s) until other work leaves the machine below 10% of a core busy for a second. */
async function quietMachine(label: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const before = machineBusy();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (machineBusy() - before < 0.1) return;
    if (Date.now() > deadline) {
      console.log(`portal: ${label}: the machine stayed busy for 30 s; measuring anyway`);
      return;
    }
  }
}

/**
 * Runs `phase` and says where the CPU went meanwhile: the server, the clients (this process and
 * its finished children) and anything else on the machine, which makes the figures unreliable.
 */
async function measured<T>(pid: number, label: string, phase: () => Promise<T>): Promise<T> {
  await quietMachine(label);
  const server0 = cpuSeconds(pid);
  const ours0 = cpuSeconds('self', true);
  const machine0 = machineBusy();
  const start = performance.now();
  const result = await phase();
  const wall = (performance.now() - start) / 1000;
  const server = cpuSeconds(pid) - server0;
  const clients = cpuSeconds('self', true) - ours0;
  const other = Math.max(0, machineBusy() - machine0 - server - clients);
  const pct = (seconds: number) => `${(100 * seconds / wall).toFixed(0)}%`;
  console.log(`portal: ${label}: CPU (% of one core) server ${pct(server)}, clients ${pct(clients)}, other processes ${pct(other)}${other / wall > 0.15 ? ' (the machine was not quiet: rerun)' : ''}`);
  return result;
}

/** Per request and per 10,000 requests: what the GC did and the server's CPU. */
function gcLine(gc: GcStats, requests: number): string {
  const per10k = (n: number) => (n * 10_000 / requests).toFixed(1);
  return `${per10k(gc.markCompacts)} Mark-Compacts per 10k requests (${gc.markCompacts}, longest ${gc.longestMarkCompactMs.toFixed(1)} ms, ${gc.markCompactMs.toFixed(0)} ms in all), `
    + `${per10k(gc.scavenges)} scavenges per 10k (${gc.scavengeMs.toFixed(0)} ms in all), `
    + `${(gc.allocatedBytes / requests / 1024).toFixed(0)} kB allocated and ${(gc.promotedBytes / requests / 1024).toFixed(2)} kB promoted per request, `
    + `CPU ${(gc.cpuMs / requests).toFixed(2)} ms per request`;
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 10);
  const rate = arg('rate', 500);
  const runs = arg('runs', 1);
  const connections = arg('connections', 20);
  const parallel = arg('downloads', 20);
  const megabytes = arg('mb', 100);
  const temp = tempDir('bench-portal');
  const dir = temp.dir;
  const masterKey = randomBytes(32);
  let server: Server | undefined;
  try {
    // Setup in this process, so the server's peak RSS is serving alone.
    const { openSqliteStore } = await import('../src/store/sqlite/index.ts');
    const { PickupStore } = await import('../src/pickup/index.ts');
    const { ensureSelfSignedCertificate } = await import('../src/vault/index.ts');
    await ensureSelfSignedCertificate(dir, HOST);
    const store = await openSqliteStore(path.join(dir, 'sealgate.db'));
    const attachment = randomAttachment(megabytes);
    const created = performance.now();
    const { id, messagePassword } = await new PickupStore({ store, masterKey, dataDir: dir }).create({
      sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 'Q3 figures', verification: 'link',
      parts: [
        { kind: 'text', contentType: 'text/plain', content: TEXT_BODY },
        { kind: 'html', contentType: 'text/html', content: HTML_BODY },
        { kind: 'attachment', contentType: 'application/octet-stream', filename: 'figures.bin', content: attachment.stream },
      ],
    });
    const expectedSha = attachment.sha256();
    await store.close();
    console.log(`portal: message with a ${megabytes} MB attachment sealed in ${((performance.now() - created) / 1000).toFixed(1)} s`);

    const profileDir = flag('profile') ? mkdtempSync(path.join(tmpdir(), 'sg-portal-profile-')) : undefined;
    if (profileDir) console.log(`portal: server CPU profiles (one per server process) will be in ${profileDir}`);
    server = await startServer(dir, masterKey, profileDir);
    const base = `https://${HOST}:${server.port}`;
    const cookie = await openSession(server.port, id, messagePassword);
    const readUrl = `${base}/m/${id}/read`;
    const page = await request(server.port, 'GET', `/m/${id}/read`, cookie);
    if (page.status !== 200 || !page.body.includes('Q3 figures')) throw new Error(`the reading page answered ${page.status} without the subject: the session did not open the message`);
    console.log(`portal: idle server: ${memoryLine(server.child.pid!)}`);
    console.log(`portal: server pid ${server.child.pid} on ${base}; reading page ${page.body.length} bytes`);

    // 1. The reading page of an open session, `runs` times; the figure is the worst run's p99.
    await cannon(readUrl, cookie, { seconds: 3, connections }); // warm-up: JIT, statement cache
    const fixedRuns: PacedResult[] = [];
    for (let i = 1; i <= runs; i++) {
      const label = `page at ${rate} req/s${runs > 1 ? `, run ${i} of ${runs}` : ''}`;
      const live = server;
      const { result: one, gc } = await measured(live.child.pid!, label, async () => {
        await live.stats();
        const result = await paced(readUrl, cookie, rate, seconds, connections);
        return { result, gc: await live.stats() };
      });
      fixedRuns.push(one);
      console.log(`portal: ${label} (open loop, evenly spaced): ${one.served.toFixed(0)} req/s served, p50 ${one.p50.toFixed(1)} ms, p99 ${one.p99.toFixed(1)} ms, max ${one.max.toFixed(1)} ms; ${one.connections} connections`);
      console.log(`portal: ${label}: server ${gcLine(gc, one.requests)}`);
      if (flag('verbose')) console.log(`portal: ${label}: connections opened at ${one.opened.join(', ')} ms (${one.resumed} resumed); slowest 1% due at ${one.slowAt.join(', ')} ms`);
    }
    const fixed = fixedRuns.reduce((worst, one) => (one.p99 > worst.p99 ? one : worst));
    if (runs > 1) console.log(`portal: worst of ${runs} runs: p99 ${fixed.p99.toFixed(1)} ms (all: ${fixedRuns.map((one) => one.p99.toFixed(1)).join(', ')})`);
    figure('portal.open_rps', fixed.served, 0);
    figure('portal.open_p99_ms_at_500rps', fixed.p99, 1);
    if (flag('page-only')) return;
    const max = await measured(server.child.pid!, 'page unthrottled', () => cannon(readUrl, cookie, { seconds, connections }));
    console.log(`portal: unthrottled over ${connections} connections: ${max.requests.average.toFixed(0)} req/s, p50 ${max.latency.p50} ms, p99 ${max.latency.p99} ms`);
    console.log(`portal: server memory after the page runs: ${memoryLine(server.child.pid!)}`);

    // 2. One download: bytes checked once, then timed 5 times without hashing in the client (median).
    const partUrl = `${base}/m/${id}/part/2`;
    const checked = await downloads(partUrl, cookie, 1, true);
    const [first] = checked.results;
    if (first.bytes !== megabytes * MB || first.sha256 !== expectedSha) throw new Error(`the download was ${first.bytes} bytes with SHA-256 ${first.sha256}, expected ${megabytes * MB} bytes with ${expectedSha}`);
    console.log(`portal: download byte-identical (SHA-256 ${expectedSha.slice(0, 16)}…)`);
    const singles: number[] = [];
    for (let i = 0; i < 5; i++) singles.push(megabytes / (await measured(server.child.pid!, 'one download', () => downloads(partUrl, cookie, 1))).seconds);
    singles.sort((a, b) => a - b);
    console.log(`portal: server memory after single downloads: ${memoryLine(server.child.pid!)}`);
    console.log(`portal: single download MB/s over 5 runs: ${singles.map((s) => s.toFixed(0)).join(', ')}`);

    // 3. Parallel downloads on a restarted server (the session is in the database), so its
    // peak RSS is theirs and not the heap the page runs grew.
    const afterLoadPeak = peakRssMb(server.child.pid!);
    await server.stop();
    server = await startServer(dir, masterKey, profileDir);
    const crowdUrl = `https://${HOST}:${server.port}/m/${id}/part/2`;
    console.log(`portal: restarted server: ${memoryLine(server.child.pid!)}`);
    const crowd = await measured(server.child.pid!, `${parallel} downloads`, () => downloads(crowdUrl, cookie, parallel));
    const crowdPeak = peakRssMb(server.child.pid!);
    const total = crowd.results.reduce((sum, r) => sum + r.bytes, 0);
    if (total !== parallel * megabytes * MB) throw new Error(`the ${parallel} downloads brought ${total} bytes, expected ${parallel * megabytes * MB}`);
    console.log(`portal: ${parallel} downloads of ${megabytes} MB in ${crowd.seconds.toFixed(1)} s; server VmHWM ${crowdPeak.toFixed(0)} MB (the first server, after the page runs and single downloads: ${afterLoadPeak.toFixed(0)} MB)`);

    figure('portal.open_max_rps', max.requests.average, 0);
    figure('portal.download_mb_per_s', singles[2], 0);
    figure('portal.download20_mb_per_s', (total / MB) / crowd.seconds, 0);
    figure('portal.peak_rss_mb', crowdPeak, 0);
  } finally {
    await server?.stop();
    temp.cleanup();
  }
}

const [role, ...rest] = process.argv.slice(2);
if (role === 'serve') await serve(rest[0]);
else if (role === 'download') await downloadClient(rest[0], Number(rest[1]), rest[2] === 'hash');
else if (role === 'pace') await paceClient(rest[0], Number(rest[1]), Number(rest[2]), Number(rest[3]));
else await main();
