import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/*
 * Ports are handed out below the kernel's ephemeral range: a port 0 listener frees its port the
 * moment it closes, and an outgoing connection of any process could take that port as its local
 * end before the gateway binds it (EADDRINUSE at start, seen in CI). Each vitest worker walks
 * its own slice (per vitest process, see scripts/run-tests.sh) so two parallel files do not pick
 * the same port either.
 */
const EPHEMERAL_LOW = ephemeralLow();
const RANGE_LOW = 10_000;
const RANGE_HIGH = Math.min(EPHEMERAL_LOW, 32_768) - 1;
const SLICES = 8;
const SLICE = Math.floor((RANGE_HIGH - RANGE_LOW + 1) / SLICES);
// SEALGATE_TEST_PORT_LANE: which of run-tests.sh's concurrent vitest processes this is.
const slice = (Number(process.env.SEALGATE_TEST_PORT_LANE ?? 0) * 2 + Number(process.env.VITEST_POOL_ID ?? 1) - 1 + SLICES) % SLICES;
let next = RANGE_LOW + slice * SLICE + Math.floor(Math.random() * SLICE);
const handedOut = new Set<number>();

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

function ephemeralPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  if (SLICE < 100) return ephemeralPort(host); // a kernel whose ephemeral range starts low
  const first = RANGE_LOW + slice * SLICE;
  for (let tries = 0; tries < SLICE; tries++) {
    const port = next;
    next = next + 1 >= first + SLICE ? first : next + 1;
    if (handedOut.has(port)) continue;
    if (await bindable(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${first}-${first + SLICE - 1} on ${host}`);
}

export async function waitForPort(host: string, port: number, timeoutMs = 10_000, describeFailure: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms. ${describeFailure()}`);
}

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `sg-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every file below `dir` (for scans of what a test left on disk). */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}
