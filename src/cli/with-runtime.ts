import { existsSync } from 'node:fs';
import { masterKeyPath, type Config } from '../config/index.ts';
import type { CliDeps } from './command.ts';
import { CliError, EX } from './exit.ts';

export type CliRuntime = Awaited<ReturnType<CliDeps['openRuntime']>>;

/**
 * Opens the installation a command works on. Only `init` and `serve` create a master key: any
 * other command on a data dir without one would otherwise start a second, empty installation
 * (issue 10 item 13), so it stops here, before anything is created.
 */
export async function withRuntime<T>(config: Config, deps: CliDeps, work: (rt: CliRuntime) => Promise<T>): Promise<T> {
  requireInstallation(config);
  const runtime = await deps.openRuntime(config, deps.createLogger({ ...config, log: { level: 'warn' } }, 2));
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

/** Stops a command before it would start a second, empty installation (no master key yet). */
export function requireInstallation(config: Config): void {
  const keyFile = masterKeyPath(config);
  if (!process.env.SEALGATE_MASTER_KEY && !existsSync(keyFile)) {
    throw new CliError(EX.config, `no master key at ${keyFile}: run \`sealgate init\` or pass --config`);
  }
}
