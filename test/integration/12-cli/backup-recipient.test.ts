/**
 * Backup to a recipient key end to end (issue 13 "Backup"): `backup keygen` makes the pair,
 * `backup create --recipient` locks the archive to the public key while the gateway runs, only
 * `--identity` with the matching file opens it; another identity, a passphrase, a flipped byte
 * and a cut file are refused with 65 and a sentence; `backup restore --identity` brings the
 * installation back onto an empty data dir.
 */
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../helpers/gateway.ts';
import { runSealgateInProcess } from '../../helpers/cli-in-process.ts';
import { tempDir } from '../../helpers/ports.ts';

const PASSWORD = 'correct horse battery staple';

describe('backup to a recipient key', () => {
  it('keygen, create --recipient, verify and restore --identity; wrong identity, flip and cut exit 65', async () => {
    const temp = tempDir('sealgate-backup-x25519-');
    const gateway = await startGateway(path.join(temp.dir, 'gw'), { web: { enabled: false } }, { cli: 'in-process' });
    try {
      expect((await gateway.cli('user', 'add', 'alice@corp.test', '--password', PASSWORD)).code).toBe(0);
      const identity = path.join(temp.dir, 'backup.identity');
      const made = await gateway.cli('backup', 'keygen', '--out', identity);
      expect(made.code, made.stderr).toBe(0);
      const publicKey = made.stdout.trim();
      expect(publicKey).toMatch(/^sealgate-backup-x25519:[A-Za-z0-9_-]{43}$/);
      expect(made.stderr).toMatch(/keep it offline/);
      expect((statSync(identity).mode & 0o777).toString(8)).toBe('600');
      expect(readFileSync(identity, 'utf8')).toMatch(/^SEALGATE-BACKUP-IDENTITY-X25519:[A-Za-z0-9_-]{43}$/m);
      expect((await gateway.cli('backup', 'keygen', '--out', identity)).code).not.toBe(0); // never overwrites an identity

      const file = path.join(temp.dir, 'x.backup');
      const created = await gateway.cli('backup', 'create', file, '--recipient', publicKey);
      expect(created.code, created.stderr).toBe(0);
      expect(readFileSync(file, 'utf8').split('\n')[0]).toMatch(/"recipient":\{"name":"x25519"/);
      // The public key from a file works as well.
      writeFileSync(path.join(temp.dir, 'pub'), `${publicKey}\n`);
      expect((await gateway.cli('backup', 'create', path.join(temp.dir, 'y.backup'), '--recipient', path.join(temp.dir, 'pub'))).code).toBe(0);
      expect(await gateway.cli('backup', 'create', path.join(temp.dir, 'z.backup'), '--recipient', 'age1notours')).toMatchObject({ code: 65, stderr: expect.stringMatching(/sealgate-backup-x25519:/) });

      const verified = await gateway.cli('backup', 'verify', file, '--identity', identity, '--json');
      expect(verified.code, verified.stderr).toBe(0);
      expect((JSON.parse(verified.stdout) as { files: { name: string }[] }).files.map((f) => f.name)).toEqual(expect.arrayContaining(['master.key', 'database.sqlite']));

      const other = path.join(temp.dir, 'other.identity');
      expect((await gateway.cli('backup', 'keygen', '--out', other)).code).toBe(0);
      expect(await gateway.cli('backup', 'verify', file, '--identity', other)).toMatchObject({ code: 65, stderr: expect.stringMatching(/this identity does not open the backup/) });
      expect(await gateway.cli('backup', 'verify', file, '--passphrase-file', identity)).toMatchObject({ code: 65, stderr: expect.stringMatching(/open it with --identity/) });
      const bytes = readFileSync(file);
      bytes[Math.floor(bytes.length / 2)] ^= 1;
      writeFileSync(path.join(temp.dir, 'flipped.backup'), bytes);
      expect(await gateway.cli('backup', 'verify', path.join(temp.dir, 'flipped.backup'), '--identity', identity)).toMatchObject({ code: 65, stderr: expect.stringMatching(/changed or cut short/) });
      writeFileSync(path.join(temp.dir, 'cut.backup'), readFileSync(file));
      truncateSync(path.join(temp.dir, 'cut.backup'), statSync(file).size - 100);
      expect(await gateway.cli('backup', 'verify', path.join(temp.dir, 'cut.backup'), '--identity', identity)).toMatchObject({ code: 65, stderr: expect.stringMatching(/\w/) });
      await gateway.kill();

      // Onto an empty data dir under a config of its own.
      const configFile = path.join(temp.dir, 'restored.json');
      writeFileSync(configFile, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir: path.join(temp.dir, 'restored', 'data'), web: { enabled: false } }));
      const cli = (...args: string[]) => runSealgateInProcess([...args, '--config', configFile]);
      expect(await cli('backup', 'restore', file, '--identity', other)).toMatchObject({ code: 65 });
      const restored = await cli('backup', 'restore', file, '--identity', identity);
      expect(restored.code, restored.stderr).toBe(0);
      const users = JSON.parse((await cli('user', 'list', '--json')).stdout) as { username: string }[];
      expect(users.map((u) => u.username)).toEqual(['alice@corp.test']);
      expect(readFileSync(path.join(temp.dir, 'restored', 'data', 'master.key')).equals(readFileSync(path.join(temp.dir, 'gw', 'data', 'master.key')))).toBe(true);
    } finally {
      await gateway.kill();
      temp.cleanup();
    }
  }, 120_000);
});
