import { describe, expect, it } from 'vitest';
import { singleNodeOnSchema } from '../helpers/cluster-rig.ts';
import { sendMessage } from '../helpers/cluster.ts';
import { until } from '../helpers/ports.ts';
import { hasPostgres } from '../helpers/stores.ts';

/*
 * Issue 9, item 5: a message to three domains, all deferring, sent three delay notices: the
 * "notice sent" flag was read at lease time by each domain group and written without a
 * check. Now the notice is claimed with a conditional update: one per message.
 */
const available = await hasPostgres();
const DOMAINS = ['one.test', 'two.test', 'three.test'];

describe.skipIf(!available)('i9-05 delay notices', () => {
  const rig = singleNodeOnSchema({
    prefix: 'i9-05',
    schema: 'i905',
    // Every recipient is deferred at RCPT.
    recorder: () => ({ reply: (_line, stage) => (stage === 'rcpt' ? '451 4.2.0 mailbox busy, try later' : undefined) }),
    node: {
      queue: { delayNoticeAfterMs: 1, retryScheduleMs: [60_000] },
      domains: Object.fromEntries(DOMAINS.map((d) => [d, { recipients: ['box'] }])),
    },
  });

  it('sends one delay notice per message, not one per domain', async () => {
    const sent = await sendMessage(rig.node.ports.inbound, 'delayed-1', { recipients: DOMAINS.map((d) => `box@${d}`), from: 'author@internet.test' });
    expect(sent.acked, sent.reply).toBe(true);
    // All three domain groups were tried and deferred.
    await until(async () => {
      const { rows } = await rig.schema.query(`select count(*)::int as n from ${rig.schema.name}.recipients r join ${rig.schema.name}.messages m on m.id = r.message_id where m.mail_from <> '' and r.state = 'queued' and r.attempts = 1`);
      return rows[0].n === DOMAINS.length;
    }, 15_000, 'three deferred attempts');
    await new Promise((r) => setTimeout(r, 500));
    const { rows } = await rig.schema.query(`select r.address from ${rig.schema.name}.messages m join ${rig.schema.name}.recipients r on r.message_id = m.id where m.mail_from = ''`);
    expect(rows.map((r: { address: string }) => r.address)).toEqual(['author@internet.test']);
    const { rows: flags } = await rig.schema.query(`select delay_notice_sent from ${rig.schema.name}.messages where mail_from <> ''`);
    expect(flags).toEqual([{ delay_notice_sent: 1 }]);
  }, 40_000);
});
