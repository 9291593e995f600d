/** `sealgate retention show|run`: how long each kind of data is kept, and the purge on demand. */
import { scheduledJobs } from '../store/index.ts';
import { adminActor } from './admin-actor.ts';
import type { Command } from './command.ts';
import { CliError, EX } from './exit.ts';
import { out, outJson } from './output.ts';
import { requireInstallation, withRuntime } from './with-runtime.ts';

export const retentionCommands: Command[] = [
  {
    name: 'retention show',
    summary: 'the retention period of each kind of data and when the purge last ran',
    json: true,
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ store }) => {
        const r = ctx.config.retention;
        const last = (await scheduledJobs(store)).find((j) => j.name === 'retention-purge');
        const periods = { finishedMessageDays: r.finishedMessageDays, receiptDays: r.receiptDays, pickupDays: r.pickupDays, auditDays: r.auditDays, tlsReportDays: r.tlsReportDays };
        if (ctx.json) {
          outJson({ periods, intervalMs: r.intervalMs, lastRun: last && last.lastStartedAt ? { at: last.lastStartedAt, node: last.owner } : null });
          return EX.ok;
        }
        out([
          `finished messages (envelope, recipients)  ${r.finishedMessageDays} days`,
          `delivery receipts                         ${r.receiptDays} days`,
          `withdrawn pickups (record, access log)    ${r.pickupDays} days after they ended`,
          `audit events                              ${r.auditDays} days (older ones behind a signed anchor)`,
          `TLS-RPT counts                            ${r.tlsReportDays} days`,
          `purge every ${Math.round(r.intervalMs / 60_000)} minutes; last run: ${last && last.lastStartedAt ? `${new Date(last.lastStartedAt).toISOString()} on node ${last.owner}` : 'never'}`,
        ].join('\n'));
        return EX.ok;
      }),
  },
  {
    name: 'retention run',
    summary: 'purge now what has outlived its retention period (audited)',
    json: true,
    args: { max: 0 },
    run: async (ctx) => {
      requireInstallation(ctx.config);
      if (!ctx.deps.purge) throw new CliError(EX.software, 'this build has no purge');
      const counts = await ctx.deps.purge(ctx.config, adminActor());
      if (ctx.json) outJson(counts);
      else out(`purged: ${counts.finishedMessages} finished message(s), ${counts.receipts} receipt(s), ${counts.pickups} withdrawn pickup(s), ${counts.auditEvents} audit event(s), TLS-RPT counts before ${counts.tlsReportsBefore}`);
      return EX.ok;
    },
  },
];
