import { describe, expect, it } from 'vitest';
import { WORKER_SEMI_SPACE_MB, workerExecArgv } from './listener-pool.ts';

describe('listener workers’ node flags', () => {
  it('caps the young generation of each worker, after the primary’s own flags', () => {
    expect(workerExecArgv(['--enable-source-maps'], '')).toEqual(['--enable-source-maps', `--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`]);
  });

  it('leaves an operator’s own --max-semi-space-size alone, on the command line or in NODE_OPTIONS', () => {
    expect(workerExecArgv(['--max-semi-space-size=16'], '')).toEqual(['--max-semi-space-size=16']);
    expect(workerExecArgv([], '--expose-gc --max-semi-space-size=8')).toEqual([]);
  });
});
