import { expect, it } from 'vitest';
import { ExpiringMap } from './expiring-map.ts';

it('forgets an entry after its time and the oldest one when full', () => {
  let now = 1000;
  const map = new ExpiringMap<string, number>(2, 100, () => now);
  map.set('a', 1);
  map.set('b', 2);
  map.set('c', 3); // full: 'a' goes
  expect([map.get('a'), map.get('b'), map.get('c')]).toEqual([undefined, 2, 3]);
  now += 100;
  expect(map.get('b')).toBeUndefined();
  map.set('c', 4); // set again: a new time
  now += 50;
  expect(map.get('c')).toBe(4);
  map.delete('c');
  expect(map.get('c')).toBeUndefined();
});
