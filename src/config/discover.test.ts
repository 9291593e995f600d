import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeSource, findConfig, untrustedConfigReason } from './discover.ts';

describe('config discovery', () => {
  const cwd = '/srv/site';
  const has = (...files: string[]) => (file: string) => files.includes(file);

  it('looks where daemons look, in order: --config, SEALGATE_CONFIG, /etc/sealgate, ./sealgate.json, defaults', () => {
    const all = has('/etc/sealgate/sealgate.json', '/srv/site/sealgate.json');
    expect(findConfig({ flag: 'my.json', env: { SEALGATE_CONFIG: '/x.json' }, cwd, exists: all })).toEqual({ file: path.resolve(cwd, 'my.json'), origin: '--config' });
    expect(findConfig({ env: { SEALGATE_CONFIG: '/x.json' }, cwd, exists: all })).toEqual({ file: '/x.json', origin: 'SEALGATE_CONFIG' });
    expect(findConfig({ env: {}, cwd, exists: all })).toEqual({ file: '/etc/sealgate/sealgate.json', origin: 'system' });
    expect(findConfig({ env: {}, cwd, exists: has('/srv/site/sealgate.json') })).toEqual({ file: '/srv/site/sealgate.json', origin: 'working directory' });
    expect(findConfig({ env: {}, cwd, exists: has() })).toEqual({ file: null, origin: 'defaults' });
  });

  it('says which file and data dir, and that defaults are defaults', () => {
    expect(describeSource({ file: '/etc/sealgate/sealgate.json', origin: 'system' }, '/var/lib/sealgate')).toBe('config /etc/sealgate/sealgate.json, data dir /var/lib/sealgate');
    expect(describeSource({ file: '/x.json', origin: '--config' }, '/d')).toBe('config /x.json (--config), data dir /d');
    expect(describeSource({ file: null, origin: 'defaults' }, '/d')).toMatch(/^no config file .*built-in defaults, data dir \/d$/);
  });
});

describe('untrustedConfigReason', () => {
  const found = { file: '/srv/shared/sealgate.json', origin: 'working directory' } as const;
  it('refuses a found file another user owns or others may write, never a named one', () => {
    expect(untrustedConfigReason(found, { uid: 1000, stat: () => ({ uid: 1000, mode: 0o100644 }) })).toBeNull();
    expect(untrustedConfigReason(found, { uid: 1000, stat: () => ({ uid: 0, mode: 0o100644 }) })).toBeNull();
    expect(untrustedConfigReason(found, { uid: 0, stat: () => ({ uid: 1001, mode: 0o100644 }) })).toMatch(/belongs to uid 1001, not to you or root/);
    expect(untrustedConfigReason(found, { uid: 0, stat: () => ({ uid: 0, mode: 0o100664 }) })).toMatch(/writable by its group/);
    expect(untrustedConfigReason({ file: '/etc/sealgate/sealgate.json', origin: 'system' }, { uid: 0, stat: () => ({ uid: 0, mode: 0o100646 }) })).toMatch(/system location\) is writable by everyone/);
    expect(untrustedConfigReason({ file: '/srv/x.json', origin: '--config' }, { uid: 0, stat: () => ({ uid: 1001, mode: 0o100666 }) })).toBeNull();
    expect(untrustedConfigReason({ file: null, origin: 'defaults' })).toBeNull();
  });
});
