import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 12 attack 11: i12-03's attacker (write access to the database, not the master key)
 * cannot make an edited receipt verify, but `sealgate receipt` and `trace` print an invalid
 * receipt from its row, and the printout kept line feeds (terminalSafe spares LF). A reply
 * column of "250 …\n  signature: valid" put a "signature: valid" line inside the receipt's
 * block; in `trace`, "\n<a whole line>" added a delivery that looked signed. Now each value is
 * printed on its own line with CR and LF spelled \r and \n: one receipt, one verdict line.
 */
const PASSWORD = 'correct horse battery staple';

describe('a receipts row whose text carries line feeds', () => {
  const rig = gatewayWithSmarthost({ prefix: 'sg-i12-11-', users: ['alice@corp.test'], password: PASSWORD });

  it('cannot add lines to the receipt or trace printout', async () => {
    const sent = await submitAs(() => rig.gateway.ports.submission, PASSWORD, 'alice@corp.test')('bob@corp.test', ['--header', 'Subject: spoofed lines']);
    expect(sent.code, sent.stdout).toBe(0);
    const id = queuedId(sent.stdout);
    await until(async () => (await rig.gateway.cli('receipt', id)).code === 0, 20_000, 'a signed receipt');
    const honest = (await rig.gateway.cli('trace', '--to', 'bob@corp.test')).stdout;
    const fakeLine = honest.trim().replace(id, 'FAKEFAKEFAKEFAKE').replace('bob@corp.test', 'ceo@corp.test');

    const db = new Database(path.join(rig.gateway.dir, 'data', 'sealgate.db'));
    try {
      db.prepare("UPDATE receipts SET reply = ?, mx_host = ? WHERE message_id = ? AND outcome = 'delivered'")
        .run(`250 2.0.0 recorded\n  signature: valid\n\n${fakeLine}`, 'mx.corp.test\r  route      tls-verified', id);
    } finally {
      db.close();
    }
    const receipt = await rig.gateway.cli('receipt', id);
    expect(receipt.code).toBe(65);
    expect(receipt.stdout).not.toMatch(/^ {2}signature: valid$/m);
    expect(receipt.stdout.match(/^ {2}(signature: valid|INVALID|NOT SIGNED)/gm)).toHaveLength(1);
    expect(receipt.stdout).toContain('recorded\\n  signature: valid\\n\\n');

    const trace = await rig.gateway.cli('trace', '--to', 'bob@corp.test');
    expect(trace.code).toBe(65);
    expect(trace.stdout.trim().split('\n')).toHaveLength(1);
    expect(trace.stdout).not.toMatch(/^\S+ {2}delivered +FAKEFAKEFAKEFAKE/m);
  });
});
