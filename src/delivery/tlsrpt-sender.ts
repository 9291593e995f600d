import { Readable } from 'node:stream';
import type { Clock, Logger, Service } from '../kernel/index.ts';
import { DnsError, type Resolver } from '../dns/index.ts';
import { buildReportMessage, parseTlsRptRecord, renderReport, type TlsReport, type TlsReportCounter } from '../linksec/index.ts';
import { makeMessageId } from '../mail/index.ts';
import type { Queue } from '../queue/index.ts';

export interface TlsReportSenderDeps {
  counter: TlsReportCounter;
  queue: Queue;
  resolver: Resolver;
  /** Our name: submitter, organisation and postmaster domain of the reports. */
  hostname: string;
  logger: Logger;
  clock: Clock;
  /** How often a round is tried (default one hour). */
  intervalMs?: number;
  /**
   * A cluster's claim on the round (the `scheduled_jobs` row): with several nodes each checks
   * every `intervalMs` and only the one that claims it sends (markSent still keeps each report single).
   */
  claimRound?: () => Promise<boolean>;
}

export interface SentReport {
  policyDomain: string;
  day: string;
  to: string[];
  messageId?: string;
  skipped?: string;
}

/** The `rua` mailto: addresses a policy domain publishes at `_smtp._tls.<domain>`. */
async function reportAddresses(domain: string, resolver: Resolver): Promise<string[] | null> {
  try {
    return parseTlsRptRecord(await resolver.resolveTxt(`_smtp._tls.${domain}`))?.mailto ?? [];
  } catch (error) {
    if (error instanceof DnsError && error.kind !== 'transient') return [];
    return null; // try again next round
  }
}

/**
 * Sends the daily TLS-RPT aggregate reports (RFC 8460 §5.3) once each UTC day is over: one
 * gzip report per policy domain that publishes mailto: addresses, queued like any message.
 */
export class TlsReportSender implements Service {
  readonly name = 'tlsrpt';
  private readonly deps: TlsReportSenderDeps;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(deps: TlsReportSenderDeps) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    const tick = () => {
      this.running ??= this.round()
        .catch((error: Error) => this.deps.logger.warn({ err: error.message }, 'TLS-RPT round failed; the next one tries again'))
        .finally(() => (this.running = undefined));
    };
    this.timer = setInterval(tick, this.deps.intervalMs ?? 3_600_000);
    this.timer.unref();
    tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async round(): Promise<void> {
    const { claimRound, logger } = this.deps;
    if (claimRound && !(await claimRound())) return;
    const sent = await this.sendDue();
    if (claimRound) logger.info({ job: 'tlsrpt', reports: sent.length }, 'cluster job ran');
  }

  /** Reports of finished days; `day` sends that day's now, finished or not (operators, tests). */
  async sendDue(day?: string): Promise<SentReport[]> {
    const days = day ? [day] : await this.deps.counter.dueDays(this.deps.clock.now());
    const sent: SentReport[] = [];
    for (const each of days) {
      for (const report of await this.deps.counter.pending(each)) sent.push(await this.send(report));
    }
    return sent.filter((s) => s.messageId || s.skipped);
  }

  private async send(report: TlsReport): Promise<SentReport> {
    const { counter, queue, resolver, hostname, logger, clock } = this.deps;
    const addresses = await reportAddresses(report.policyDomain, resolver);
    if (addresses === null) return { policyDomain: report.policyDomain, day: report.day, to: [] };
    if (!(await counter.markSent(report.day, report.policyDomain))) return { policyDomain: report.policyDomain, day: report.day, to: [] };
    if (addresses.length === 0) return { policyDomain: report.policyDomain, day: report.day, to: [], skipped: 'no mailto: rua published' };
    const rendered = renderReport(report, { organizationName: hostname, contactInfo: `mailto:postmaster@${hostname}`, submitter: hostname });
    const messageId = makeMessageId(hostname);
    const raw = buildReportMessage(rendered, { from: `postmaster@${hostname}`, to: addresses, policyDomain: report.policyDomain, submitter: hostname, messageId, date: new Date(clock.now()) });
    // A report about broken TLS must get through that broken TLS (RFC 8460 §5.3, RFC 8689 §5).
    await queue.enqueue(
      { mailFrom: `postmaster@${hostname}`, recipients: addresses.map((address) => ({ address, notify: ['NEVER'] })), requireTls: false, tlsOptional: true, smtpUtf8: false, bodyType: '7BIT' },
      Readable.from([raw]),
    );
    logger.info({ policyDomain: report.policyDomain, day: report.day, recipients: addresses.length }, 'TLS-RPT report queued');
    return { policyDomain: report.policyDomain, day: report.day, to: addresses, messageId };
  }
}
