/** `sealgate tlsrpt`: the TLS-RPT reports pending for a day, or `send` to queue them now. */
import type { Config } from '../config/index.ts';
import type { CliDeps, Command } from './command.ts';
import { UsageError } from './exit.ts';
import { out } from './output.ts';
import { withRuntime } from './with-runtime.ts';

export async function tlsrptCommand(config: Config, deps: CliDeps, sub: string | undefined, day: string | undefined, json: boolean): Promise<number> {
  return withRuntime(config, deps, async ({ store, queue, logger }) => {
    // Loaded here: the delivery stack would slow every other sealgate command by about a second.
    const { renderReport, TlsReportCounter } = await import('../linksec/index.ts');
    const counter = new TlsReportCounter(store);
    if (sub === 'send') {
      const { TlsReportSender } = await import('../delivery/index.ts');
      const { createSystemResolver } = await import('../dns/index.ts');
      const resolver = createSystemResolver({ servers: config.delivery.dnsServers.length ? config.delivery.dnsServers : undefined });
      const sender = new TlsReportSender({ counter, queue, resolver, hostname: config.hostname, logger, clock: { now: () => Date.now() } });
      const sent = await sender.sendDue(day);
      out(sent.length ? sent.map((s) => `${s.day} ${s.policyDomain}: ${s.messageId ? `queued to ${s.to.join(', ')}` : `not sent (${s.skipped})`}`).join('\n') : 'no reports due');
      return 0;
    }
    if (sub) throw new UsageError('tlsrpt: use `tlsrpt [--day YYYY-MM-DD] [--json]` or `tlsrpt send [--day YYYY-MM-DD]`');
    const reports = await counter.pending(day);
    const org = { organizationName: config.hostname, contactInfo: `mailto:postmaster@${config.hostname}`, submitter: config.hostname };
    const rendered = reports.map((report) => JSON.parse(renderReport(report, org).json) as object);
    if (json) out(JSON.stringify(rendered, null, 2));
    else if (reports.length === 0) out(`no TLS sessions counted for ${day ?? 'today'} under a published policy`);
    else {
      for (const report of rendered as { policies: { policy: { 'policy-type': string; 'policy-domain': string; 'mx-host'?: string[] }; summary: Record<string, number>; 'failure-details'?: { 'result-type': string; 'failed-session-count': number; 'receiving-mx-hostname'?: string }[] }[] }[]) {
        for (const p of report.policies) {
          out(`${p.policy['policy-domain']} (${p.policy['policy-type']}${p.policy['mx-host'] ? ` ${p.policy['mx-host'].join(' ')}` : ''}): ${p.summary['total-successful-session-count']} successful, ${p.summary['total-failure-session-count']} failed`);
          for (const f of p['failure-details'] ?? []) out(`    ${f['result-type']} x${f['failed-session-count']}${f['receiving-mx-hostname'] ? ` at ${f['receiving-mx-hostname']}` : ''}`);
        }
      }
    }
    return 0;
  });
}

const day = { day: { type: 'string', value: 'YYYY-MM-DD', help: 'the day (UTC; default: today, or for send every finished day)' } } as const;

function checkDay(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new UsageError(`--day takes a date as YYYY-MM-DD, not ${JSON.stringify(value)}`);
  return value;
}

export const tlsrptCommands: Command[] = [
  {
    name: 'tlsrpt',
    usage: '[--day YYYY-MM-DD]',
    summary: 'the pending TLS-RPT (RFC 8460) reports (default: today)',
    options: day,
    json: true,
    args: { max: 0 },
    run: (ctx) => tlsrptCommand(ctx.config, ctx.deps, undefined, checkDay(ctx.options.day), ctx.json),
  },
  {
    name: 'tlsrpt send',
    usage: '[--day YYYY-MM-DD]',
    summary: 'queue the reports of finished days (or of DAY) now',
    options: day,
    args: { max: 0 },
    run: (ctx) => tlsrptCommand(ctx.config, ctx.deps, 'send', checkDay(ctx.options.day), false),
  },
];
