import { describe, expect, it } from 'vitest';
import { configSchema } from '../config/index.ts';
import { UsageError } from './exit.ts';
import { withWorkers } from './serve.ts';

describe('sealgate serve --workers', () => {
  const config = configSchema.parse({});

  it('defaults serve.workers to auto, and the flag overrides it with a number or auto', () => {
    expect(config.serve.workers).toBe('auto');
    expect(withWorkers(config, undefined).serve.workers).toBe('auto');
    expect(withWorkers(config, '3').serve.workers).toBe(3);
    expect(withWorkers(configSchema.parse({ serve: { workers: 2 } }), 'auto').serve.workers).toBe('auto');
    expect(withWorkers(config, '256').serve.workers).toBe(256);
  });

  it('refuses what serve.workers would refuse, as a usage error naming the flag', () => {
    for (const bad of ['0', '-1', '1.5', 'two', '', '257', '01']) expect(() => withWorkers(config, bad)).toThrow(UsageError);
    expect(() => withWorkers(config, '0')).toThrow(/--workers "0": give a number from 1 to 256, or auto/);
    expect(() => configSchema.parse({ serve: { workers: 0 } })).toThrow();
  });
});
