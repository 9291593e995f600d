import { describe, expect, it } from 'vitest';
import { routeFor } from './route.ts';

describe('routeFor', () => {
  const table = { domains: { 'clinic.test': { smarthost: '127.0.0.20:2526' } } };
  it.each([
    ['clinic.test', { kind: 'smarthost', host: '127.0.0.20', port: 2526 }],
    ['CLINIC.test', { kind: 'smarthost', host: '127.0.0.20', port: 2526 }],
    ['elsewhere.test', { kind: 'mx' }],
    ['sub.clinic.test', { kind: 'mx' }],
  ])('%s', (domain, route) => {
    expect(routeFor(domain, table)).toEqual(route);
  });
});
