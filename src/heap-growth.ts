import v8 from 'node:v8';

/**
 * How far the primary lets V8's heap grow between collections, set as `serve` starts (before
 * the gateway's modules load). Left alone, 100 relay sessions of small messages took the idle
 * 150 MB process to 310 MB (bench/README.md "Memory"):
 *
 * - The young generation grew to 128 MB of semi-spaces, nearly all of it resident. A started
 *   process cannot lower `--max-semi-space-size` any more, but V8 reads
 *   `--semi-space-growth-factor` each time it grows the space and clamps a value under 2 only
 *   when the heap is set up: 1 set afterwards keeps it at its starting size, as the listener
 *   workers' `--max-semi-space-size=2` and the systemd unit do.
 * - With a small young generation, what a message holds while its commit waits for the fsync
 *   is promoted, and V8 let the old generation grow up to 4x its live size before marking it
 *   (and the buffers the dead objects held, external memory, with it). `--heap-growing-percent`
 *   is read at each such limit: 50 marks at 1.5x.
 *
 * heap-growth.test.ts checks that this Node still honours both. An operator's own flag for
 * either (node's flags or NODE_OPTIONS) wins.
 */
export const OLD_GENERATION_GROWTH_PERCENT = 50;

const YOUNG_GENERATION_FLAG = /^--(max-semi-space-size|min-semi-space-size|semi-space-growth-factor)(=|$)/;
const OLD_GENERATION_FLAG = /^--heap-growing-percent(=|$)/;

/** What it bounded; a part the operator's flags decide is left alone. */
export function boundHeapGrowth(execArgv: string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): { youngGeneration: boolean; oldGeneration: boolean } {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)];
  const youngGeneration = !given.some((flag) => YOUNG_GENERATION_FLAG.test(flag));
  const oldGeneration = !given.some((flag) => OLD_GENERATION_FLAG.test(flag));
  if (youngGeneration) v8.setFlagsFromString('--semi-space-growth-factor=1');
  if (oldGeneration) v8.setFlagsFromString(`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`);
  return { youngGeneration, oldGeneration };
}
