import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { tempDir } from '../helpers/ports.ts';
import { sealgate } from '../integration/12-cli/run-cli.ts';

/*
 * Issue 13 "Backup", attacker's pass: the README's way to give the passphrase,
 * `SEALGATE_BACKUP_PASSPHRASE='…' sealgate backup create FILE`, must work (a passphrase in a
 * file is not always at hand in a cron job). Before, the config loader read every SEALGATE_*
 * variable as a config key and refused it ("unknown key backupPassphrase", exit 78), so the
 * only working way left the passphrase in a file. The value is never echoed.
 */
it('SEALGATE_BACKUP_PASSPHRASE locks and opens a backup, and is never printed', async () => {
  const temp = tempDir('sealgate-i13-04-');
  try {
    const config = path.join(temp.dir, 'sealgate.json');
    writeFileSync(config, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir: path.join(temp.dir, 'data'), web: { enabled: false }, backup: { scryptLogN: 14 } }));
    expect((await sealgate(temp.dir, ['init', '--config', config])).code).toBe(0);
    const secret = 'env passphrase 4711 nobody types';
    const archive = path.join(temp.dir, 'sealgate.backup');
    const made = await sealgate(temp.dir, ['backup', 'create', archive, '--config', config], { SEALGATE_BACKUP_PASSPHRASE: secret });
    expect(made.code, made.stderr).toBe(0);
    const verified = await sealgate(temp.dir, ['backup', 'verify', archive, '--config', config], { SEALGATE_BACKUP_PASSPHRASE: secret });
    expect(verified.code, verified.stderr).toBe(0);
    const wrong = await sealgate(temp.dir, ['backup', 'verify', archive, '--config', config], { SEALGATE_BACKUP_PASSPHRASE: 'not the passphrase at all' });
    expect(wrong).toMatchObject({ code: 65, stderr: expect.stringMatching(/wrong passphrase, or the file was changed or cut short/) });
    for (const run of [made, verified, wrong]) expect(run.stdout + run.stderr).not.toContain('passphrase 4711');
  } finally {
    temp.cleanup();
  }
}, 120_000);
