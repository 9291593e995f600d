import type { Config } from '../config/index.ts';
import { TlsReportSender } from '../delivery/index.ts';
import { createSystemResolver } from '../dns/index.ts';
import { LinkPins, LinkSecurityMemory, renderReport, TlsReportCounter, type LinkRecord } from '../linksec/index.ts';
import type { Store } from '../store/index.ts';
import { checkCommand } from './domain-check.ts';
import { importCommand } from './domain-import.ts';
import { out, UsageError, withRuntime, type CliDeps } from './index.ts';

function formatRecord(r: LinkRecord & { daneDetail?: string; policyNote?: string; kept?: boolean }): string {
  const tls = r.tlsVersion ? `${r.tlsVersion} ${r.cipher ?? ''}` : r.starttlsOffered ? 'STARTTLS offered, handshake failed' : 'no STARTTLS';
  const cert = r.tlsVersion ? (r.certValid ? `certificate valid (${r.certSubject ?? ''})` : `certificate NOT valid: ${r.certError ?? 'unknown'}`) : '';
  const dane = r.dane ? `DANE ${r.dane === 'matched' ? 'matched' : 'MISMATCH'}${r.daneDetail ? `: ${r.daneDetail}` : ''}` : 'DANE: no usable TLSA records';
  return [
    `  ${r.mxHost} [${r.ip ?? '-'}]  level ${r.level}`,
    `      ${tls}${cert ? `; ${cert}` : ''}`,
    `      ${dane}${r.policyNote ? `; ${r.policyNote}` : ''}`,
    `      REQUIRETLS ${r.requireTlsAdvertised ? 'advertised' : 'not advertised'}${r.error ? `; error: ${r.error}` : ''}`,
    `      seen ${new Date(r.at).toISOString()}, holds until ${new Date(r.expiresAt).toISOString()}`,
    ...(r.kept ? ['      NOT recorded: a stronger level proved before still holds and delivery stays held to it (`domain forget` lowers it)'] : []),
  ].join('\n');
}

async function pinCommand(store: Store, sub: string, domain: string | undefined, level: string | undefined, note: string | undefined): Promise<number> {
  const pins = new LinkPins(store);
  if (sub === 'pins') {
    const list = await pins.list();
    out(list.length ? list.map((p) => `${p.domain}  at least ${p.minLevel}${p.note ? `  (${p.note})` : ''}`).join('\n') : 'no pins');
    return 0;
  }
  if (!domain) throw new UsageError(`domain ${sub} needs a DOMAIN`);
  if (sub === 'unpin') {
    out((await pins.unpin(domain)) ? `${domain}: pin removed` : `${domain} was not pinned`);
    return 0;
  }
  if (!level) throw new UsageError('domain pin needs DOMAIN LEVEL (none, tls, tls-verified or dane)');
  const pin = await pins.pin(domain, level, note ?? null, Date.now());
  out(`${pin.domain}: every message is held to at least ${pin.minLevel}`);
  return 0;
}

export async function domainCommand(config: Config, deps: CliDeps, sub: string | undefined, domain: string | undefined, json: boolean, extra: { level?: string; note?: string; force?: boolean } = {}): Promise<number> {
  return withRuntime(config, deps, async ({ store, logger }) => {
    const memory = new LinkSecurityMemory(store);
    if (sub === 'pin' || sub === 'unpin' || sub === 'pins') return pinCommand(store, sub, domain, extra.level, extra.note);
    if (sub === 'export') {
      out(JSON.stringify(await memory.list(domain), null, 2));
      return 0;
    }
    if (sub === 'import') {
      if (!domain) throw new UsageError('domain import needs a FILE (JSON written by `domain export`)');
      return importCommand(memory, logger, domain, { force: extra.force === true, out });
    }
    if (sub === 'forget') {
      if (!domain) throw new UsageError('domain forget needs a DOMAIN (and optionally one MX host)');
      const mxHost = extra.level;
      const before = await memory.list(domain);
      const removed = await memory.forget(domain, mxHost);
      // No audit module yet: a structured line the log pipeline can pick out.
      logger.warn({ audit: true, action: 'domain.forget', domain: domain.toLowerCase(), mxHost: mxHost ?? null, removed, levels: before.filter((r) => !mxHost || r.mxHost === mxHost.toLowerCase()).map((r) => `${r.mxHost}=${r.level}`) }, 'link-security records forgotten by an admin');
      out(removed ? `${domain}: forgot ${removed} record(s); the next session starts from nothing` : `${domain}: nothing recorded`);
      return 0;
    }
    if (sub === 'show') {
      const records = await memory.list(domain);
      out(json ? JSON.stringify(records, null, 2) : records.length ? records.map(formatRecord).join('\n') : 'nothing recorded yet');
      return 0;
    }
    if (sub !== 'check' || !domain) throw new UsageError('domain: use `domain check DOMAIN`, `domain show [DOMAIN]`, `domain export [DOMAIN]`, `domain import FILE [--force]`, `domain forget DOMAIN [MX]`, `domain pin DOMAIN LEVEL`, `domain unpin DOMAIN` or `domain pins`');
    return checkCommand(config, store, logger, domain, json, out);
  });
}

/** `sealgate tlsrpt`: the TLS-RPT reports pending for a day, or `send` to queue them now. */
export async function tlsrptCommand(config: Config, deps: CliDeps, sub: string | undefined, day: string | undefined, json: boolean): Promise<number> {
  return withRuntime(config, deps, async ({ store, queue, logger }) => {
    const counter = new TlsReportCounter(store);
    if (sub === 'send') {
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
