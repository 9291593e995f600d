import v8 from 'node:v8';

/**
 * The primary's young generation. Left alone V8 grows it to 128 MB of semi-spaces under load
 * (Node 24), nearly all of it resident: 100 relay sessions of small messages took the idle
 * 150 MB process to 310 MB (bench/README.md "Memory"). A started process cannot lower
 * `--max-semi-space-size` any more, but V8 reads `--semi-space-growth-factor` each time it
 * grows the space, and clamps a value under 2 only when the heap is set up: 1 set afterwards
 * keeps the space at its starting size (1 MB semi-spaces), as the listener workers'
 * `--max-semi-space-size=2` and the systemd unit do. young-generation.test.ts checks that this
 * Node still honours it. An operator's own young-generation flag (node's flags or
 * NODE_OPTIONS) wins.
 */
const YOUNG_GENERATION_FLAG = /^--(max-semi-space-size|min-semi-space-size|semi-space-growth-factor)(=|$)/;

/** True when it bounded the space; false when the operator's flags decide. */
export function boundYoungGeneration(execArgv: string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if ([...execArgv, ...nodeOptions.split(/\s+/)].some((flag) => YOUNG_GENERATION_FLAG.test(flag))) return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
