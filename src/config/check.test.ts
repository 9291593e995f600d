import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { changedKeys, nestChanged } from './changed.ts';
import { configProblems, listenerClashes } from './check.ts';
import { envOverrides, loadConfig, parseConfig } from './load.ts';

describe('config check', () => {
  it('finds certificate and key files that are named but missing, and a half pair', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-check-'));
    writeFileSync(path.join(dir, 'cert.pem'), 'x');
    const problems = configProblems(parseConfig({ tls: { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'nokey.pem') }, web: { certFile: path.join(dir, 'web.pem') } }));
    expect(problems).toContain(`tls.keyFile: ${path.join(dir, 'nokey.pem')} does not exist`);
    expect(problems).toContain(`web.certFile: ${path.join(dir, 'web.pem')} does not exist`);
    expect(problems).toContain('web.certFile is set without web.keyFile: give both, or neither');
    expect(problems.some((p) => p.startsWith('tls.certFile'))).toBe(false);
  });

  it('finds two listeners on one host:port, the web port and wildcards included', () => {
    expect(listenerClashes(parseConfig({}))).toEqual([]);
    expect(listenerClashes(parseConfig({ web: { port: 2587 } }))).toEqual(['listeners.submission and web both listen on 127.0.0.1:2587: give one of them another port']);
    expect(listenerClashes(parseConfig({ listeners: { inbound: { host: '0.0.0.0', port: 2465 } } }))).toEqual(['listeners.inbound and listeners.submissionTls both listen on 0.0.0.0 / 127.0.0.1:2465: give one of them another port']);
    expect(listenerClashes(parseConfig({ listeners: { inbound: { host: '127.0.0.2', port: 2465 } } }))).toEqual([]);
    expect(listenerClashes(parseConfig({ web: { port: 2587, enabled: false } }))).toEqual([]);
  });

  it('words errors for people and names the environment variable a bad value came from', () => {
    const env = { SEALGATE_DELIVERY__PORT: 'abc' };
    expect(() => loadConfig({ env })).toThrow('SEALGATE_DELIVERY__PORT=abc: delivery.port must be a number, not the text "abc"');
    expect(() => parseConfig({ web: { publicUrl: 'http://portal.clinic.test' } })).toThrow('web.publicUrl: must be https: http://portal.clinic.test');
    expect(() => parseConfig({ limits: { maxMesageBytes: 1 } })).toThrow('limits: unknown key "maxMesageBytes" (did you mean "maxMessageBytes"?)');
    expect(() => parseConfig({ delivery: { defaultTlsPolicy: 'always' } })).toThrow('delivery.defaultTlsPolicy: must be one of "opportunistic", "required", "verified", not "always"');
    expect(() => parseConfig({ hostname: '' })).toThrow('hostname: must not be empty');
    expect(envOverrides({ SEALGATE_DEBUG: '1' })).toEqual({});
  });

  it('--changed lists only keys that differ from the defaults', () => {
    const config = parseConfig({ delivery: { port: 2526 }, domains: { 'clinic.test': { smarthost: 'mx.clinic.test:25' } }, hostname: 'sealgate.localhost' });
    const changed = changedKeys(config, parseConfig({}));
    expect(changed.map((c) => `${c.key} = ${JSON.stringify(c.value)}`)).toEqual(['domains.clinic.test.smarthost = "mx.clinic.test:25"', 'domains.clinic.test.allowExternalSenders = false', 'delivery.port = 2526']);
    expect(nestChanged(changed)).toEqual({ domains: { 'clinic.test': { smarthost: 'mx.clinic.test:25', allowExternalSenders: false } }, delivery: { port: 2526 } });
  });
});
