import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/ports.ts';

/*
 * Issue 10 item 13, attacker's pass: the CLI reads ./sealgate.json from the working directory.
 * Another local user plants one in a shared directory (/tmp, a team folder) naming their own
 * data dir or database; an admin who runs `sealgate …` there as root used it. A found config
 * file is now used only when it belongs to the caller or root and nobody else may write it.
 */
const BIN = path.resolve(import.meta.dirname, '../../bin/sealgate.js');

function sealgate(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(process.getuid?.() !== 0)('i10-16 a config file planted in the working directory', () => {
  const temp = tempDir('i10-16');

  it("is refused when another user owns it or others may write it; the admin's own is used", async () => {
    const shared = path.join(temp.dir, 'shared');
    mkdirSync(shared, { mode: 0o1777 });
    chmodSync(shared, 0o1777);
    const planted = path.join(shared, 'sealgate.json');
    const evilData = path.join(temp.dir, 'mallory-data');
    writeFileSync(planted, JSON.stringify({ dataDir: evilData }));
    chownSync(planted, 65534, 65534);
    const owned = await sealgate(shared, ['init']);
    expect(owned.code).toBe(78);
    expect(owned.stderr).toContain(`${planted} (found in the working directory) belongs to uid 65534, not to you or root: not used`);
    expect(existsSync(evilData)).toBe(false);

    chownSync(planted, 0, 0);
    chmodSync(planted, 0o666);
    const writable = await sealgate(shared, ['init']);
    expect(writable.code).toBe(78);
    expect(writable.stderr).toContain('is writable by everyone: not used');
    expect(existsSync(evilData)).toBe(false);

    chmodSync(planted, 0o644);
    const own = await sealgate(shared, ['init']);
    expect(own.code, own.stderr).toBe(0);
    expect(existsSync(path.join(evilData, 'master.key'))).toBe(true);
    temp.cleanup();
  });
});
