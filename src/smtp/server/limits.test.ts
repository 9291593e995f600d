import { describe, expect, it } from 'vitest';
import { ConnectionSlots, PerIpCounter } from './limits.ts';

describe('connection slots', () => {
  it('inbound never takes the share reserved for submission', () => {
    const slots = new ConnectionSlots(10, 3);
    const inbound = Array.from({ length: 10 }, () => slots.tryAcquire('inbound'));
    expect(inbound.filter(Boolean)).toHaveLength(7);
    expect([1, 2, 3].map(() => slots.tryAcquire('submission'))).toEqual([true, true, true]);
    expect(slots.tryAcquire('submission')).toBe(false);
    slots.release('inbound');
    expect(slots.tryAcquire('submission')).toBe(true);
    expect(slots.tryAcquire('inbound')).toBe(false);
  });

  it('counts IPv6 clients by their /64', () => {
    const perIp = new PerIpCounter(2);
    expect(perIp.tryAcquire('2001:db8:1:2::1')).toBe(true);
    expect(perIp.tryAcquire('2001:db8:1:2::ffff')).toBe(true);
    expect(perIp.tryAcquire('2001:db8:1:2:abcd::1')).toBe(false);
    expect(perIp.tryAcquire('2001:db8:1:3::1')).toBe(true);
    perIp.release('2001:db8:1:2::1');
    expect(perIp.tryAcquire('2001:db8:1:2::9')).toBe(true);
  });
});
