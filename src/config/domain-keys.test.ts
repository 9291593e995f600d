import { expect, it } from 'vitest';
import { configSchema } from './schema.ts';

// Routing and TLS policies are looked up by the A-label domain (att-domain-spelling).
it('domain-keyed tables are keyed by lowercase A-labels without a trailing dot', () => {
  const config = configSchema.parse({
    domains: { 'Bücher.Example.': { smarthost: '127.0.0.1:25' } },
    delivery: { tlsPolicies: { 'ＳTRICT.test': 'verified', 'bank.example': 'required' } },
  });
  expect(Object.keys(config.domains)).toEqual(['xn--bcher-kva.example']);
  expect(config.delivery.tlsPolicies).toEqual({ 'strict.test': 'verified', 'bank.example': 'required' });
});

it('a __proto__ key stays an own key, never the prototype', () => {
  const config = configSchema.parse(JSON.parse('{"delivery":{"tlsPolicies":{"__proto__":"verified"}}}'));
  expect(Object.getPrototypeOf(config.delivery.tlsPolicies)).toBe(Object.prototype);
});
