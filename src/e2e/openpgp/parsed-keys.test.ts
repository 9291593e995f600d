import { describe, expect, it } from 'vitest';
import { ParsedKeyCache } from './parsed-keys.ts';

describe('ParsedKeyCache', () => {
  it('parses the same bytes once, other bytes again, and again after the entry expired', async () => {
    let now = 0;
    let parses = 0;
    const cache = new ParsedKeyCache<number>(10, 1000, () => now);
    const parse = async () => ++parses;
    expect(await cache.get(Buffer.from('key A'), parse)).toBe(1);
    expect(await cache.get(Buffer.from('key A'), parse)).toBe(1);
    expect(await cache.get(Buffer.from('key B'), parse)).toBe(2);
    now = 1000;
    expect(await cache.get(Buffer.from('key A'), parse)).toBe(3);
  });

  it('keeps no failed parse and no more than its bound, dropping the least recently used', async () => {
    const cache = new ParsedKeyCache<string>(2, 60_000);
    await expect(cache.get(Buffer.from('bad'), async () => Promise.reject(new Error('not a key')))).rejects.toThrow('not a key');
    await Promise.resolve();
    expect(cache.size).toBe(0);
    await cache.get(Buffer.from('a'), async () => 'a');
    await cache.get(Buffer.from('b'), async () => 'b');
    await cache.get(Buffer.from('a'), async () => 'a again'); // a is now the most recent
    await cache.get(Buffer.from('c'), async () => 'c');
    expect(cache.size).toBe(2);
    expect(await cache.get(Buffer.from('a'), async () => 'a re-parsed')).toBe('a');
    expect(await cache.get(Buffer.from('b'), async () => 'b re-parsed')).toBe('b re-parsed');
  });
});
