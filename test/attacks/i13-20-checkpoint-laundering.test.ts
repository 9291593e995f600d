import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { failedSmtpLogins, rewriteAuditChain } from '../helpers/audit-rewrite.ts';

/*
 * Issue 13, after attack 2: the witness file shows a chain rebuilt with the database alone, until
 * the gateway signs again. It signed whatever head it found, so the next checkpoint (every 100
 * events, at stop, or `audit checkpoint`) covered the rewritten chain, replaced the witness, and
 * `audit verify` said "intact" again: the rewrite was laundered by our own key. Now the gateway
 * signs only a head that still follows the newest checkpoint it signed.
 */

const PASSWORD = 'correct horse battery staple';

describe('a rewritten audit chain is not signed again', () => {
  const rig = gatewayWithSmarthost({ prefix: 'sg-i13-20-', users: ['alice@corp.test'], password: PASSWORD, config: { login: { freeAttempts: 10 } } });
  const dbFile = () => path.join(rig.gateway.dir, 'data', 'sealgate.db');

  const failedLogins = (count: number, from = 0) => failedSmtpLogins(rig.gateway.ports.submission, count, from);

  /** Drops every checkpoint and the first failed login, then re-links the rest from genesis. */
  const rebuildWithoutFirstFailure = () => rewriteAuditChain(dbFile(), (row, all) => row.seq === all.find((r) => r.action === 'login.failed')!.seq);

  it('refuses to sign the rewritten head, and verify still names the rewrite', async () => {
    await failedLogins(3);
    expect((await rig.gateway.cli('audit', 'checkpoint')).code).toBe(0);
    rebuildWithoutFirstFailure();
    // The running gateway writes more events, so the rewritten head is past the witnessed one.
    await failedLogins(3, 3);
    const signed = await rig.gateway.cli('audit', 'checkpoint');
    expect(signed.code, signed.stdout).toBe(65);
    expect(signed.stderr).toMatch(/no longer follows the checkpoint signed at event [0-9]+: .*the head is not signed/);
    const verify = await rig.gateway.cli('audit', 'verify');
    expect(verify.code).toBe(65);
    expect(verify.stderr).toMatch(/audit log broken at event [0-9]+: .*(rewritten|removed)/);
  });
});
