import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.ts';
import { configWarnings } from './warnings.ts';

describe('configWarnings', () => {
  it('warns about a local smarthost hop that does not require TLS, and only that one', () => {
    const config = parseConfig({
      domains: { 'clinic.test': { smarthost: 'mail.clinic.test:25' }, 'lab.test': { smarthost: 'mx.lab.test:25' } },
      delivery: { tlsPolicies: { 'lab.test': 'verified' } },
    });
    const warnings = configWarnings(config);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^domains\["clinic\.test"\]\.smarthost mail\.clinic\.test:25 does not require TLS/);
    expect(warnings[0]).toContain('delivery.tlsPolicies["clinic.test"] to "required" or "verified"');
  });

  it('names an explicit opportunistic policy as the cause', () => {
    const config = parseConfig({ domains: { 'a.test': { smarthost: 'h:25' } }, delivery: { defaultTlsPolicy: 'verified', tlsPolicies: { 'a.test': 'opportunistic' } } });
    expect(configWarnings(config)[0]).toContain('delivery.tlsPolicies["a.test"] is "opportunistic"');
  });

  it('is quiet without local domains, or when every hop requires TLS', () => {
    expect(configWarnings(parseConfig({}))).toEqual([]);
    expect(configWarnings(parseConfig({ domains: { 'a.test': { smarthost: 'h:25' } }, delivery: { defaultTlsPolicy: 'required' } }))).toEqual([]);
  });

  it('warns when the admin listener leaves loopback, not when it stays there or is off', () => {
    expect(configWarnings(parseConfig({ ops: { enabled: true, host: '0.0.0.0' } }))[0]).toMatch(/^ops\.host 0\.0\.0\.0 is not a loopback address/);
    expect(configWarnings(parseConfig({ ops: { enabled: true, host: '127.0.0.1' } }))).toEqual([]);
    expect(configWarnings(parseConfig({ ops: { enabled: false, host: '0.0.0.0' } }))).toEqual([]);
  });
});
