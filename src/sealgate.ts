#!/usr/bin/env node
/**
 * The `sealgate` command's entry. The gateway (main.ts: listeners, portal, delivery) is loaded
 * only by `serve`, and the runtime (store, queue, pickup) only by commands that open one:
 * loading everything cost every command about two seconds, `sop` and `--help` included.
 */
import type { CliDeps } from './cli/index.ts';
import type { Config } from './config/index.ts';
import type { Logger } from './kernel/index.ts';
import type { Runtime } from './runtime.ts';
import { boundHeapGrowth } from './heap-growth.ts';

const runtimeModule = () => import('./runtime.ts');

/** Opens the runtime for one piece of work and closes it again. */
async function withRuntime<T>(config: Config, logger: Logger, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await (await runtimeModule()).openRuntime(config, logger);
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  // Before the rest loads: loading the modules alone grew the young generation to 32 MB.
  if (argv.includes('serve')) boundHeapGrowth();
  const { runCli } = await import('./cli/index.ts');
  const { createLogger } = await import('./logger.ts');
  const deps: CliDeps = {
    startGateway: async (config) => (await import('./main.ts')).startGateway(config),
    openRuntime: async (config, logger) => (await runtimeModule()).openRuntime(config, logger),
    initDataDir: async (config) => (await runtimeModule()).initDataDir(config),
    createLogger,
    purge: async (config, actor) => {
      const { runPurge } = await import('./retention-service.ts');
      return withRuntime(config, createLogger(config, 2), (runtime) => runPurge(runtime, actor));
    },
    compliance: async (config) => {
      const { buildComplianceReport } = await import('./compliance-facts.ts');
      return withRuntime(config, createLogger({ ...config, log: { level: 'warn' } }, 2), buildComplianceReport);
    },
  };
  process.exitCode = await runCli(argv, deps);
}

if (import.meta.main) await main(process.argv.slice(2));
