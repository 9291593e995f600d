import { describe, expect, it } from 'vitest';
import { envOverrides, parseConfig, ConfigError } from './load.ts';

describe('config', () => {
  it('runs on defaults alone', () => {
    const config = parseConfig({});
    expect(config.listeners.submission.port).toBe(2587);
    expect(config.limits.maxMessageBytes).toBe(50 * 1024 * 1024);
    expect(config.queue.maxAgeMs).toBe(5 * 24 * 3_600_000);
  });

  it('names the bad key and the reason', () => {
    expect(() => parseConfig({ delivery: { port: 70000 } })).toThrow(/delivery\.port:.*65535/);
    expect(() => parseConfig({ limits: { maxMesageBytes: 1 } })).toThrow(/limits:.*maxMesageBytes/);
    expect(() => parseConfig({ domains: { 'a.test': { smarthost: 'nohost' } } })).toThrow(ConfigError);
  });

  it('reads nested overrides from the environment', () => {
    const over = envOverrides({ SEALGATE_DELIVERY__PORT: '2526', SEALGATE_STORE__URL: 'postgres://x', SEALGATE_HOSTNAME: 'mx.test', OTHER: '1', SEALGATE_MASTER_KEY: 'k', SEALGATE_CRASH_RATE: '0.1', SEALGATE_CONFIG: 'f' });
    expect(over).toEqual({ delivery: { port: 2526 }, store: { url: 'postgres://x' }, hostname: 'mx.test' });
    expect(parseConfig(over).delivery.port).toBe(2526);
  });

  it('camel-cases multi-word keys', () => {
    expect(envOverrides({ SEALGATE_DELIVERY__DEFAULT_TLS_POLICY: 'verified' })).toEqual({ delivery: { defaultTlsPolicy: 'verified' } });
  });
});
