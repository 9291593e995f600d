import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../src/main.ts');

export interface GatewayProcess {
  dir: string;
  configFile: string;
  ports: { inbound: number; submission: number; submissionTls: number };
  child: ChildProcess;
  output(): string;
  /** Runs `sealgate <args>` against the same config. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForListen(port: number, child: ChildProcess, output: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sealgate exited with ${child.exitCode}:\n${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sealgate did not listen on ${port} within ${timeoutMs} ms:\n${output()}`);
}

/**
 * Starts `node src/main.ts serve` with a config in `dir` (the real process, so tests can
 * SIGKILL it). `config` is merged over loopback listeners on free ports.
 */
export async function startGateway(dir: string, config: Record<string, unknown> = {}): Promise<GatewayProcess> {
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
    ...config,
  };
  writeFileSync(configFile, JSON.stringify(full, null, 2));
  let buffer = '';
  const gateway: GatewayProcess = {
    dir,
    configFile,
    ports,
    child: undefined as unknown as ChildProcess,
    output: () => buffer,
    async cli(...args) {
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
    const child = spawn(process.execPath, [MAIN, 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (buffer += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (buffer += d.toString()));
    gateway.child = child;
    await waitForListen(ports.submission, child, () => buffer);
  }
  await launch();
  return gateway;
}
