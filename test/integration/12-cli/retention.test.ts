/**
 * Retention end to end (issue 13 "Retention and disposal"): the running gateway claims the
 * purge job at start; `sealgate retention run` on a clock 40 days ahead removes the delivered
 * message's record and receipt, and the audit log says who purged what and still verifies.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../../helpers/attack-rig.ts';
import { sendMessage } from '../../helpers/cluster.ts';
import { until } from '../../helpers/ports.ts';

const PRELOAD = path.resolve(import.meta.dirname, '../../helpers/clock-skew-preload.ts');

describe('retention through the CLI', () => {
  const rig = gatewayWithSmarthost({ prefix: 'retention' });

  it('the gateway runs the purge job; retention run removes what outlived its period, audited', async () => {
    const sent = await sendMessage(rig.gateway.ports.inbound, 'kept-then-purged', { recipients: ['box@corp.test'] });
    expect(sent.acked).toBe(true);
    const id = /queued as (\S+)/.exec(sent.reply)?.[1] ?? '';
    await until(() => rig.rx.transactions().length === 1, 20_000, 'the message relayed');
    await until(async () => JSON.parse((await rig.gateway.cli('queue', 'show', id, '--json')).stdout || '{}').recipients?.[0]?.state === 'delivered', 20_000, 'delivered in the queue');

    const shown = JSON.parse((await rig.gateway.cli('retention', 'show', '--json')).stdout) as { periods: Record<string, number>; lastRun: { at: number; node: string } | null };
    expect(shown.periods).toMatchObject({ finishedMessageDays: 30, receiptDays: 365, auditDays: 2190 });
    expect(shown.lastRun?.node).toMatch(/\S/); // claimed by the running gateway at start

    // Nothing is old enough today.
    const today = JSON.parse((await rig.gateway.cli('retention', 'run', '--json')).stdout) as Record<string, unknown>;
    expect(today).toMatchObject({ finishedMessages: 0, receipts: 0 });
    expect((await rig.gateway.cli('queue', 'show', id)).code).toBe(0);

    const saved = { options: process.env.NODE_OPTIONS, skew: process.env.SEALGATE_TEST_CLOCK_SKEW_MS };
    process.env.NODE_OPTIONS = `${saved.options ?? ''} --import ${PRELOAD}`.trim();
    process.env.SEALGATE_TEST_CLOCK_SKEW_MS = String(40 * 86_400_000);
    let later: Record<string, unknown>;
    try {
      const run = await rig.gateway.cli('retention', 'run', '--json');
      expect(run.code, run.stderr).toBe(0);
      later = JSON.parse(run.stdout) as Record<string, unknown>;
    } finally {
      if (saved.options === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved.options;
      if (saved.skew === undefined) delete process.env.SEALGATE_TEST_CLOCK_SKEW_MS;
      else process.env.SEALGATE_TEST_CLOCK_SKEW_MS = saved.skew;
    }
    expect(later).toMatchObject({ finishedMessages: 1, receipts: 0, auditEvents: 0 });
    expect((await rig.gateway.cli('queue', 'show', id)).code).toBe(66);

    const events = JSON.parse((await rig.gateway.cli('audit', 'list', '--action', 'retention', '--json')).stdout) as { actor: string; protocol: string; detail: Record<string, unknown> }[];
    // The gateway's own run at start removed nothing, so it left no event; the admin's runs did.
    expect(events.map((e) => [e.actor.startsWith('admin:') || e.actor === 'system' ? e.actor.split(':')[0] : e.actor, e.protocol, e.detail.finishedMessages])).toEqual([
      ['admin', 'cli', 0],
      ['admin', 'cli', 1],
    ]);
    // And each purged message is an event of its own, naming it and nothing of its content.
    const purged = JSON.parse((await rig.gateway.cli('audit', 'list', '--action', 'message.purged', '--json')).stdout) as { actor: string; target: string; detail: Record<string, unknown> }[];
    expect(purged.map((e) => [e.actor.split(':')[0], e.target, e.detail])).toEqual([['admin', id, { kind: 'queue' }]]);
    expect((await rig.gateway.cli('audit', 'verify')).code).toBe(0);
  }, 90_000);
});
