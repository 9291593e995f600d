import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { boundYoungGeneration } from './young-generation.ts';

/**
 * A child Node that allocates like a busy relay (short-lived objects, a share of them kept a
 * while) and prints its young generation's size in MB. Left alone V8 grows it to 64+ MB.
 */
function youngGenerationAfterChurn(bound: boolean, nodeFlags: string[] = []): number {
  const script = `
    import v8 from 'node:v8';
    import { boundYoungGeneration } from ${JSON.stringify(new URL('./young-generation.ts', import.meta.url).href)};
    if (${bound}) boundYoungGeneration();
    const kept = [];
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 20000; i++) {
        kept.push({ n: i, text: 'x' + i, list: [i] });
        if (kept.length > 200000) kept.splice(0, 100000);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    console.log(Math.round(young.space_size / 1048576));
  `;
  const out = execFileSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return Number(out.trim());
}

describe('the primary’s young generation', () => {
  it('stays at its starting size under an allocation-heavy load (it grows to 64+ MB unbounded)', () => {
    expect(youngGenerationAfterChurn(false)).toBeGreaterThanOrEqual(32);
    expect(youngGenerationAfterChurn(true)).toBeLessThanOrEqual(8);
  }, 60_000);

  it('leaves an operator’s own young-generation flag alone, on the command line or in NODE_OPTIONS', () => {
    expect(boundYoungGeneration(['--max-semi-space-size=16'], '')).toBe(false);
    expect(boundYoungGeneration([], '--expose-gc --semi-space-growth-factor=4')).toBe(false);
    expect(youngGenerationAfterChurn(true, ['--max-semi-space-size=16'])).toBeGreaterThanOrEqual(16);
  }, 60_000);
});
