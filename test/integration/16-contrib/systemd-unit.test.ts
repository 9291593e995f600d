/**
 * contrib/sealgate.service (issue 14 "Operations"): systemd itself checks the unit
 * (`systemd-analyze verify`: every key known, the command executable), with the paths of this
 * checkout in place of /usr/bin/node and /opt/sealgate; and the sandboxing an admin expects is there.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/ports.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const UNIT = path.join(ROOT, 'contrib/sealgate.service');
const ANALYZE = '/usr/bin/systemd-analyze';

describe.skipIf(!existsSync(ANALYZE))('contrib/sealgate.service', () => {
  const temp = tempDir('systemd');
  afterAll(() => temp.cleanup());
  const text = readFileSync(UNIT, 'utf8');

  it('passes systemd-analyze verify without a warning', async () => {
    expect(text).toContain('ExecStart=/usr/bin/node --max-semi-space-size=2 /opt/sealgate/bin/sealgate.js serve --config /etc/sealgate/sealgate.json');
    const local = path.join(temp.dir, 'sealgate.service');
    writeFileSync(local, text.replace('/usr/bin/node /opt/sealgate/bin/sealgate.js', `${process.execPath} ${path.join(ROOT, 'bin/sealgate.js')}`));
    const { stdout, stderr } = await run(ANALYZE, ['verify', local]);
    expect(stderr.trim(), stderr).toBe('');
    expect(stdout.trim()).toBe('');
    // And a broken key is something it reports (the check can fail).
    writeFileSync(local, text.replace('ProtectSystem=strict', 'ProtectSystm=strict').replace('/usr/bin/node /opt/sealgate/bin/sealgate.js', `${process.execPath} ${path.join(ROOT, 'bin/sealgate.js')}`));
    expect((await run(ANALYZE, ['verify', local])).stderr).toMatch(/Unknown key 'ProtectSystm'/);
  });

  it('runs sandboxed as its own user with only the data dir writable', () => {
    const keys = new Map(text.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(Object.fromEntries(['User', 'NoNewPrivileges', 'ProtectSystem', 'ReadWritePaths', 'ProtectHome', 'PrivateTmp', 'CapabilityBoundingSet', 'RestrictAddressFamilies'].map((k) => [k, keys.get(k)]))).toEqual({
      User: 'sealgate',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ReadWritePaths: '/var/lib/sealgate',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      CapabilityBoundingSet: 'CAP_NET_BIND_SERVICE',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
    });
  });
});
