/**
 * The emergency access credential from the command line (issue 13 "Emergency access"), the
 * real command in child processes: `init` prints it once and only the first time, `status`
 * tells whether one is ready, `rotate` makes a new one that replaces it; each is audited,
 * and `compliance` reports the safeguard as met.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/ports.ts';
import { sealgate } from './run-cli.ts';

const CREDENTIAL = /^ {4}((?:[A-Z2-7]{4}-){7}[A-Z2-7]{4})$/m;

describe('sealgate break-glass', () => {
  const temp = tempDir('cli-break-glass');
  const cwd = path.join(temp.dir, 'site');
  const cli = (...args: string[]) => sealgate(cwd, args);
  afterAll(() => temp.cleanup());

  it('init prints a credential once; rotate replaces it; status and the audit log tell', async () => {
    mkdirSync(cwd, { recursive: true });
    writeFileSync(path.join(cwd, 'sealgate.json'), JSON.stringify({ dataDir: 'data', log: { level: 'silent' } }));
    const init = await cli('init');
    expect(init.code).toBe(0);
    const first = CREDENTIAL.exec(init.stdout)?.[1];
    expect(first, init.stdout).toBeDefined();
    expect(init.stdout).toContain('/admin/break-glass');
    const again = await cli('init');
    expect(again.stdout).not.toMatch(CREDENTIAL);
    expect(again.stdout).toContain('sealgate break-glass rotate');

    const rotated = await cli('break-glass', 'rotate');
    expect(rotated.code).toBe(0);
    const second = CREDENTIAL.exec(rotated.stdout)?.[1];
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    const status = JSON.parse((await cli('break-glass', 'status', '--json')).stdout) as { active: { createdAt: number } | null; lastUsed: unknown };
    expect(status.active?.createdAt).toBeGreaterThan(0);
    expect(status.lastUsed).toBeNull();
    const audit = await cli('audit', 'list', '--json');
    const actions = (JSON.parse(audit.stdout) as { action: string }[]).map((e) => e.action);
    expect(actions.filter((a) => a.startsWith('break-glass.'))).toEqual(['break-glass.create', 'break-glass.rotate']);
    // The compliance report reads the same records: emergency access is met.
    const report = JSON.parse((await cli('compliance', '--json')).stdout) as { safeguards: { id: string; status: string; findings: string[] }[] };
    const emergency = report.safeguards.find((s) => s.id === 'emergency-access');
    expect(emergency?.status).toBe('met');
    expect(report.safeguards).toHaveLength(10);
    const text = await cli('compliance');
    expect(text.stdout).toMatch(/^\[ok\] +164\.312\(a\)\(2\)\(ii\) +Emergency access procedure$/m);
  });
});
