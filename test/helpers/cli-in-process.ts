/**
 * `sealgate <args>` run inside the test process: the same `runCli` with the composition
 * root's real dependencies, the real config discovery (cwd and environment are switched for
 * the call) and stdout/stderr captured. A Node start costs over a second (more on a loaded
 * machine), so tests that check a command's logic, not its process, use this; each command
 * group keeps at least one test through the real `bin/sealgate.js` spawn (12-cli/run-cli.ts).
 *
 * Not for: `serve`, `sop` (reads stdin), closed pipes (EPIPE exits the process), anything
 * that needs the process to exit. Calls run one at a time (stdout, stderr, cwd and env are
 * process-wide).
 */
import pino from 'pino';
import { runCli, type CliDeps } from '../../src/cli/index.ts';
import type { Config } from '../../src/config/index.ts';
import type { Logger } from '../../src/kernel/index.ts';
import { initDataDir, openRuntime } from '../../src/runtime.ts';
import { runPurge } from '../../src/retention-service.ts';

export interface InProcessRun {
  code: number;
  stdout: string;
  stderr: string;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `args` as `sealgate` would in `cwd`, with only `env` (plus PATH and HOME) as its
 * environment, like the spawned run-cli.ts helper.
 */
export function sealgateInProcess(cwd: string, args: string[], env: Record<string, string> = {}): Promise<InProcessRun> {
  return runSealgateInProcess(args, { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...env } });
}

/**
 * Runs `args` in this process's own cwd and environment (what a child started with the
 * defaults would inherit), or in the `cwd` / exactly the `env` given.
 */
export function runSealgateInProcess(args: string[], where: { cwd?: string; env?: Record<string, string> } = {}): Promise<InProcessRun> {
  const run = queue.then(() => runOnce(args, where));
  queue = run.catch(() => undefined);
  return run;
}

async function runOnce(args: string[], { cwd, env }: { cwd?: string; env?: Record<string, string> }): Promise<InProcessRun> {
  let stdout = '';
  let stderr = '';
  // What the command logs goes where its process would write it: stderr (fd 2) or stdout.
  const createLogger = (config: Config, destination: 1 | 2 = 1): Logger =>
    pino({ level: config.log.level, base: { service: 'sealgate' } }, { write: (line: string) => (destination === 2 ? (stderr += line) : (stdout += line)) }) as unknown as Logger;
  const purge: NonNullable<CliDeps['purge']> = async (config, actor) => {
    const runtime = await openRuntime(config, createLogger(config, 2));
    try {
      return await runPurge(runtime, actor);
    } finally {
      await runtime.close();
    }
  };
  const deps: CliDeps = {
    startGateway: () => Promise.reject(new Error('sealgateInProcess does not run `serve`: spawn the real process')),
    openRuntime,
    initDataDir,
    createLogger,
    purge,
  };
  const savedEnv = { ...process.env };
  const savedCwd = process.cwd();
  const writes = { out: process.stdout.write, err: process.stderr.write };
  const listeners = { out: process.stdout.listeners('error'), err: process.stderr.listeners('error') };
  const capture = (append: (text: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof process.stdout.write;
  if (env) {
    for (const key of Object.keys(process.env)) delete process.env[key];
    Object.assign(process.env, env);
  }
  if (cwd) process.chdir(cwd);
  process.stdout.write = capture((t) => (stdout += t));
  process.stderr.write = capture((t) => (stderr += t));
  let code: number;
  try {
    code = await runCli(args, deps);
  } catch (error) {
    // What an uncaught error would do to the process: exit 1 with the stack on stderr.
    stderr += `${(error as Error).stack ?? String(error)}\n`;
    code = 1;
  } finally {
    process.stdout.write = writes.out;
    process.stderr.write = writes.err;
    if (cwd) process.chdir(savedCwd);
    if (env) {
      for (const key of Object.keys(process.env)) delete process.env[key];
      Object.assign(process.env, savedEnv);
    }
    // runCli's closed-pipe handlers belong to a process that ends after one command.
    for (const [stream, before] of [[process.stdout, listeners.out], [process.stderr, listeners.err]] as const) {
      for (const l of stream.listeners('error')) if (!before.includes(l)) stream.removeListener('error', l as (...a: unknown[]) => void);
    }
  }
  return { code, stdout, stderr };
}
