import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from './ports.ts';

const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../src/sealgate.ts');

export interface GatewayProcess {
  dir: string;
  configFile: string;
  ports: { inbound: number; submission: number; submissionTls: number };
  child: ChildProcess;
  output(): string;
  /**
   * Runs `sealgate <args>` against the same config: a child process, or the same runCli in
   * this process when started with `{ cli: 'in-process' }` (cli-in-process.ts).
   */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
}

// 45 s: on a loaded machine (the suite beside other work) a cold start took over 20 s.
async function waitForListen(port: number, child: ChildProcess, output: () => string, timeoutMs = 45_000): Promise<void> {
  // Fail fast with the gateway's own words when it exits instead of listening.
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`sealgate exited with ${code}:\n${output()}`))));
  exited.catch(() => undefined);
  await Promise.race([waitForPort('127.0.0.1', port, timeoutMs, output), exited]);
}

/** `serve.workers` of a test's gateway unless its config sets it: SEALGATE_TEST_WORKERS, else 1. */
export function testWorkers(): number {
  const workers = Number(process.env.SEALGATE_TEST_WORKERS ?? 1);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`SEALGATE_TEST_WORKERS=${process.env.SEALGATE_TEST_WORKERS}: give a whole number from 1`);
  return workers;
}

/** Waits for `line` in what the process wrote after `from` (the output's length when it started). */
async function waitForLine(child: ChildProcess, output: () => string, from: number, line: string, timeoutMs = 45_000): Promise<void> {
  const began = Date.now();
  while (!output().includes(line, from)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sealgate exited with ${child.exitCode ?? child.signalCode}:\n${output()}`);
    if (Date.now() - began > timeoutMs) throw new Error(`sealgate did not log ${line} within ${timeoutMs / 1000} s:\n${output().slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface GatewayOptions {
  /**
   * How `gateway.cli()` runs: `spawn` (default) a `node src/sealgate.ts` child per call, costing
   * a Node start (over a second); `in-process` the same runCli here, for tests that check what
   * a command does rather than its process (keep a spawned test per command group).
   */
  cli?: 'spawn' | 'in-process';
}

/**
 * Starts `node src/sealgate.ts serve` with a config in `dir` (the real process, so tests can
 * SIGKILL it). `config` is merged over loopback listeners on free ports.
 */
export async function startGateway(dir: string, config: Record<string, unknown> = {}, options: GatewayOptions = {}): Promise<GatewayProcess> {
  mkdirSync(dir, { recursive: true });
  const ports = { inbound: await freePort(), submission: await freePort(), submissionTls: await freePort() };
  const configFile = path.join(dir, 'sealgate.json');
  const full = {
    hostname: 'gateway.sealgate.test',
    dataDir: path.join(dir, 'data'),
    listeners: {
      inbound: { host: '127.0.0.1', port: ports.inbound },
      submission: { host: '127.0.0.1', port: ports.submission },
      submissionTls: { host: '127.0.0.1', port: ports.submissionTls },
    },
    log: { level: 'info' },
    // Several gateways run at once in some suites: each portal gets a port of its own.
    web: { port: await freePort() },
    // One process unless the test (or SEALGATE_TEST_WORKERS, to run a folder on a cluster)
    // says otherwise: the suite's timings and process counts assume it.
    serve: { workers: testWorkers() },
    ...config,
  };
  const workers = (full.serve as { workers?: number | 'auto' }).workers;
  const clustered = workers === 'auto' || (workers ?? 1) > 1;
  // A test that places a listener itself (another address) is waited for there.
  const placed = full.listeners as Record<keyof typeof ports, { port: number }>;
  for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = placed[name]?.port ?? ports[name];
  writeFileSync(configFile, JSON.stringify(full, null, 2));
  let buffer = '';
  const gateway: GatewayProcess = {
    dir,
    configFile,
    ports,
    child: undefined as unknown as ChildProcess,
    output: () => buffer,
    async cli(...args) {
      // Imported on first use: files that only spawn need not load the CLI's modules.
      if (options.cli === 'in-process') return (await import('./cli-in-process.ts')).runSealgateInProcess([...args, '--config', configFile]);
      try {
        const { stdout, stderr } = await run(process.execPath, [MAIN, ...args, '--config', configFile], { timeout: 60_000 });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    },
    async kill(signal = 'SIGTERM') {
      const child = gateway.child;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
    async restart() {
      await gateway.kill();
      await launch();
    },
  };
  async function launch() {
    const from = buffer.length;
    const child = spawn(process.execPath, [MAIN, 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (buffer += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (buffer += d.toString()));
    gateway.child = child;
    await waitForListen(ports.submission, child, () => buffer);
    // With listener workers the port opens when the first one listens; the gateway is up when
    // the primary prints its banner (every worker listening, the admin listener open; on
    // stderr whatever the log level).
    if (clustered) await waitForLine(child, () => buffer, from, 'Sealgate is running as');
  }
  await launch();
  return gateway;
}
