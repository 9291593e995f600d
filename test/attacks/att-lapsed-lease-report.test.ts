import { describe, expect, it } from 'vitest';
import { singleNodeOnSchema } from '../helpers/cluster-rig.ts';
import { CLUSTER_DOMAIN, sendMessage } from '../helpers/cluster.ts';
import { until } from '../helpers/ports.ts';
import { hasPostgres } from '../helpers/stores.ts';

/*
 * Attack (issue 9 items 1 and 2 together): an attempt whose lease ran out while it waited for
 * the remote (renewals failed during a database outage, or the node paused) but that no other
 * node took over. The worker asked `holding` (lease unexpired) before queueing the failure
 * report and found nothing, so it queued no report; the settle, which names the lease by its
 * token, still applied and made the recipient `failed` for good. The sender was never told
 * of mail that failed. The report now follows the same rule as the settle: while the lease's
 * token still holds the recipient, its result (and its report) stand.
 */
const available = await hasPostgres();

describe.skipIf(!available)('att a failure whose lease lapsed before its settle', () => {
  const rig = singleNodeOnSchema({
    prefix: 'att-lapsed',
    schema: 'attlapsed',
    recorder: (schema) => ({
      dataReplyDelayMs: 600,
      reply: (_line, stage) => {
        if (stage !== 'dot') return undefined;
        // Just before the remote answers, the lease runs out (as when renewals could not reach
        // the database); no poll comes round before the worker settles.
        setTimeout(() => void schema.query(`update ${schema.name}.recipients set lease_until = 0 where state = 'leased'`), 500);
        return '550 5.1.1 No such mailbox here';
      },
    }),
    // A long lease and a slow poll: neither heartbeat nor lease comes round in the moment
    // between the lapse and the settle (as when the database has just come back).
    node: { queue: { leaseMs: 60_000, pollIntervalMs: 10_000 } },
  });

  it('queues the failure report of every recipient it settles failed', async () => {
    expect((await sendMessage(rig.node.ports.inbound, 'lapsed', { from: 'sender@internet.test' })).acked).toBe(true);
    // The original's recipient fails; the report to internet.test (no route) may fail too.
    const original = async () => (await rig.schema.query(`select state from ${rig.schema.name}.recipients where address = 'box@${CLUSTER_DOMAIN}'`)).rows[0]?.state;
    await until(async () => (await original()) === 'failed', 15_000, 'settled failed');
    const { rows } = await rig.schema.query(
      `select r.address from ${rig.schema.name}.messages m join ${rig.schema.name}.recipients r on r.message_id = m.id where m.mail_from = ''`,
    );
    expect(rows.map((r: { address: string }) => r.address)).toEqual(['sender@internet.test']);
    expect(rig.rx.commands().some((c) => c.toString().includes(`box@${CLUSTER_DOMAIN}`))).toBe(true);
  }, 30_000);
});
