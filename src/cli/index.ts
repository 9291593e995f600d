/**
 * The `sealgate` command. The command table (run.ts) loads every group's words; `sop` needs
 * none of it, nor a config or a data dir, and its exit codes are the SOP draft's.
 */
import type { CliDeps } from './command.ts';
import { stopQuietlyOnClosedPipe } from './output.ts';

export type { CliDeps } from './command.ts';

export async function runCli(argv: string[], deps: CliDeps): Promise<number> {
  if (argv[0] === 'sop') {
    stopQuietlyOnClosedPipe();
    return (await import('./sop.ts')).runSop(argv.slice(1));
  }
  return (await import('./run.ts')).runCli(argv, deps);
}
