/**
 * Composition root, retention (issue 13): the purge that deletes what has outlived its period
 * (config `retention`), run once per interval across a cluster (store/scheduled-jobs.ts), and
 * on demand by `sealgate retention run`. Each run is an audit event with its counts.
 */
import type { Service } from './kernel/index.ts';
import { TlsReportCounter } from './linksec/index.ts';
import type { Runtime } from './runtime.ts';
import { claimScheduledJob } from './store/index.ts';

const DAY_MS = 86_400_000;
const JOB = 'retention-purge';

export interface PurgeCounts {
  finishedMessages: number;
  receipts: number;
  pickups: number;
  auditEvents: number;
  /** TLS-RPT counts before this day were removed. */
  tlsReportsBefore: string;
}

/**
 * Deletes every kind of data past its retention period; `actor` is who asked and `protocol`
 * where (the audit names both: the hourly run is `system`, `sealgate retention run` the CLI).
 */
export async function runPurge(runtime: Runtime, actor: string, protocol = actor === 'system' ? 'system' : 'cli'): Promise<PurgeCounts> {
  const { config, clock } = runtime;
  const now = clock.now();
  const ago = (days: number) => now - days * DAY_MS;
  const r = config.retention;
  const tlsReportsBefore = new Date(ago(r.tlsReportDays)).toISOString().slice(0, 10);
  // Issue 13 "message purged": one event per message, one chain write per batch of up to 200.
  const purged = (kind: 'queue' | 'pickup') => (ids: string[]) =>
    runtime.audit.recordMany(ids.map((id) => ({ actor, action: 'message.purged', target: id, protocol, detail: { kind } })));
  const counts: PurgeCounts = {
    finishedMessages: await runtime.queue.purgeFinished(ago(r.finishedMessageDays), purged('queue')),
    receipts: await runtime.queue.purgeReceipts(ago(r.receiptDays)),
    pickups: await runtime.pickup.purgeWithdrawn(ago(r.pickupDays), purged('pickup')),
    auditEvents: (await runtime.audit.prune(ago(r.auditDays))).removed,
    tlsReportsBefore,
  };
  await new TlsReportCounter(runtime.store, { now: () => clock.now() }).prune(tlsReportsBefore);
  // The hourly run leaves an event when it removed something; an admin's run always does.
  const removed = counts.finishedMessages + counts.receipts + counts.pickups + counts.auditEvents;
  if (removed > 0 || actor !== 'system') await runtime.audit.record({ actor, action: 'retention.purge', protocol, detail: { ...counts } });
  return counts;
}

export function createRetentionService(runtime: Runtime): Service {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const tick = () => {
    running ??= (async () => {
      try {
        if (!(await claimScheduledJob(runtime.store, JOB, runtime.nodeId, runtime.config.retention.intervalMs, runtime.clock.now()))) return;
        const counts = await runPurge(runtime, 'system');
        runtime.logger.info({ ...counts }, 'retention purge done');
      } catch (error) {
        runtime.logger.warn({ err: (error as Error).message }, 'retention purge failed; the next interval tries again');
      } finally {
        running = undefined;
      }
    })();
  };
  return {
    name: 'retention',
    async start() {
      // Checked every minute: which node runs it is decided by the claim, not by timers lining up.
      timer = setInterval(tick, Math.min(60_000, runtime.config.retention.intervalMs));
      timer.unref();
      tick();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
