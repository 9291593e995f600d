import { mkdirSync, readdirSync, watch, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { tempDir } from '../helpers/ports.ts';
import { sealgate } from '../integration/12-cli/run-cli.ts';

/*
 * Issue 13 "Backup", attacker's pass: the archive is encrypted because the medium it sits on
 * (a USB disk, an NFS share, a bucket mount) is not trusted. `sealgate backup verify` must
 * check it without writing what it decrypts onto that medium: before, it unpacked the master
 * key and the database in plaintext into a `.verify-*` folder beside the archive and deleted
 * them afterwards (an interrupted verify left them there; a deleted file on such a medium is
 * still readable). Watched with inotify (fs.watch) while the real command runs.
 */
it('backup verify writes nothing beside the archive it checks', async () => {
  const temp = tempDir('sealgate-i13-03-');
  try {
    const config = path.join(temp.dir, 'sealgate.json');
    writeFileSync(config, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir: path.join(temp.dir, 'data'), web: { enabled: false }, backup: { scryptLogN: 14 } }));
    const passFile = path.join(temp.dir, 'pass');
    writeFileSync(passFile, 'a long backup passphrase\n');
    expect((await sealgate(temp.dir, ['init', '--config', config])).code).toBe(0);
    const medium = path.join(temp.dir, 'medium');
    mkdirSync(medium);
    const archive = path.join(medium, 'sealgate.backup');
    const made = await sealgate(temp.dir, ['backup', 'create', archive, '--passphrase-file', passFile, '--config', config]);
    expect(made.code, made.stderr).toBe(0);

    const seen: string[] = [];
    const watcher = watch(medium, { recursive: true }, (_event, name) => void seen.push(String(name)));
    try {
      const verified = await sealgate(temp.dir, ['backup', 'verify', archive, '--passphrase-file', passFile, '--config', config]);
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/^backup intact: \d+ file\(s\)/);
      await new Promise((resolve) => setTimeout(resolve, 200)); // inotify events still in flight
    } finally {
      watcher.close();
    }
    expect([...new Set(seen)], 'names created beside the archive during verify').toEqual([]);
    expect(readdirSync(medium)).toEqual(['sealgate.backup']);
  } finally {
    temp.cleanup();
  }
}, 120_000);
