import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { failedSmtpLogins, rewriteAuditChain, type AuditRow } from '../helpers/audit-rewrite.ts';

/*
 * Issue 13 attack 2: someone with write access to the database but not the master key wants a
 * failed-login trail gone. The signed checkpoints live in the same database, so they deleted
 * them too and rebuilt the whole chain consistently (SHA-256 is no secret); `audit verify` then
 * said "intact". The gateway keeps its newest signed checkpoint outside the database (in its data
 * dir), and verify holds the log to it.
 */

const PASSWORD = 'correct horse battery staple';

// Each case on a gateway of its own: once a chain was rewritten, the gateway signs no new head
// on it (i13-20), so a second case on the same log could not start from a signed one.
describe.each(['rewrite', 'cut'])('audit verify after the checkpoints were deleted and the chain rebuilt (%s)', (scenario) => {
  const rig = gatewayWithSmarthost({ prefix: 'sg-i13-02-', users: ['alice@corp.test'], password: PASSWORD, config: { login: { freeAttempts: 10 } } });
  const dbFile = () => path.join(rig.gateway.dir, 'data', 'sealgate.db');

  const failedLogins = (count: number, from = 0) => failedSmtpLogins(rig.gateway.ports.submission, count, from);

  const rebuild = (drop: (row: AuditRow) => boolean) => rewriteAuditChain(dbFile(), drop);

  it.runIf(scenario === 'rewrite')('names the rewrite instead of calling the log intact', async () => {
    await failedLogins(3);
    // The gateway signs its head every 100 events and when it stops; `audit checkpoint` does it now.
    const signed = await rig.gateway.cli('audit', 'checkpoint');
    expect(signed.code, signed.stderr).toBe(0);
    const intact = await rig.gateway.cli('audit', 'verify');
    expect(intact.code, intact.stderr).toBe(0);
    const before = (JSON.parse((await rig.gateway.cli('audit', 'list', '--json')).stdout) as { action: string }[]).map((e) => e.action);
    expect(before.filter((a) => a === 'login.failed')).toHaveLength(3);

    // The second failed login is gone; the rest links up again from genesis; no checkpoint left.
    rebuild((row) => row.seq === 2);
    const tampered = await rig.gateway.cli('audit', 'verify');
    expect(tampered.code).toBe(65);
    expect(tampered.stderr).toMatch(/audit log broken at event [0-9]+: .*(rewritten|removed)/);
  });

  it.runIf(scenario === 'cut')('finds a log cut short along with its checkpoints', async () => {
    await failedLogins(2);
    expect((await rig.gateway.cli('audit', 'checkpoint')).code).toBe(0);
    const db = new Database(dbFile(), { readonly: true });
    const head = (db.prepare('SELECT max(seq) AS n FROM audit_events').get() as { n: number }).n;
    db.close();
    rebuild((row) => row.seq === head); // also drops every checkpoint
    const cut = await rig.gateway.cli('audit', 'verify');
    expect(cut.code).toBe(65);
    expect(cut.stderr).toMatch(/audit log broken at event [0-9]+: .*(removed|rewritten)/);
  });
});
