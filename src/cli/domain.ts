import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import { probeDomain } from '../delivery/index.ts';
import { createSystemResolver } from '../dns/index.ts';
import { MailError } from '../kernel/index.ts';
import { LinkSecurityMemory, type LinkRecord } from '../linksec/index.ts';
import { out, UsageError, withRuntime, type CliDeps } from './index.ts';

function formatRecord(r: LinkRecord): string {
  const tls = r.tlsVersion ? `${r.tlsVersion} ${r.cipher ?? ''}` : r.starttlsOffered ? 'STARTTLS offered, handshake failed' : 'no STARTTLS';
  const cert = r.tlsVersion ? (r.certValid ? `certificate valid (${r.certSubject ?? ''})` : `certificate NOT valid: ${r.certError ?? 'unknown'}`) : '';
  return [
    `  ${r.mxHost} [${r.ip ?? '-'}]  level ${r.level}`,
    `      ${tls}${cert ? `; ${cert}` : ''}`,
    `      REQUIRETLS ${r.requireTlsAdvertised ? 'advertised' : 'not advertised'}${r.error ? `; error: ${r.error}` : ''}`,
    `      seen ${new Date(r.at).toISOString()}, holds until ${new Date(r.expiresAt).toISOString()}`,
  ].join('\n');
}

// What `domain import` accepts: the records `domain export` writes (another site's list).
const importedRecord = z.object({
  domain: z.string().min(1).max(255),
  mxHost: z.string().min(1).max(255),
  ip: z.string().nullable().default(null),
  starttlsOffered: z.boolean(),
  tlsVersion: z.string().nullable(),
  cipher: z.string().nullable().default(null),
  certSubject: z.string().nullable().default(null),
  certValid: z.boolean(),
  certError: z.string().nullable().default(null),
  requireTlsAdvertised: z.boolean().default(false),
  error: z.string().nullable().default(null),
  at: z.number().int().positive(),
});

export async function domainCommand(config: Config, deps: CliDeps, sub: string | undefined, domain: string | undefined, json: boolean): Promise<number> {
  return withRuntime(config, deps, async ({ store }) => {
    const memory = new LinkSecurityMemory(store);
    if (sub === 'export') {
      out(JSON.stringify(await memory.list(domain), null, 2));
      return 0;
    }
    if (sub === 'import') {
      if (!domain) throw new UsageError('domain import needs a FILE (JSON written by `domain export`)');
      const parsed = z.array(importedRecord).safeParse(JSON.parse(readFileSync(domain, 'utf8')));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        process.stderr.write(`sealgate: ${domain}: record ${issue.path.join('.')}: ${issue.message}\n`);
        return 65;
      }
      for (const record of parsed.data) await memory.record(record);
      out(`imported ${parsed.data.length} record(s)`);
      return 0;
    }
    if (sub === 'show') {
      const records = await memory.list(domain);
      out(json ? JSON.stringify(records, null, 2) : records.length ? records.map(formatRecord).join('\n') : 'nothing recorded yet');
      return 0;
    }
    if (sub !== 'check' || !domain) throw new UsageError('domain: use `domain check DOMAIN`, `domain show [DOMAIN]`, `domain export [DOMAIN]` or `domain import FILE`');
    let observations;
    try {
      observations = await probeDomain(domain.toLowerCase(), {
        resolver: createSystemResolver({ servers: config.delivery.dnsServers.length ? config.delivery.dnsServers : undefined }),
        heloName: config.hostname,
        port: config.delivery.port,
        extraCa: config.delivery.extraCaFiles.map((file) => readFileSync(file)),
        connectTimeoutMs: Math.min(config.delivery.connectTimeoutMs, 10_000),
        commandTimeoutMs: Math.min(config.delivery.commandTimeoutMs, 30_000),
        ipFamilies: config.delivery.ipFamilies,
        clock: { now: () => Date.now() },
      });
    } catch (error) {
      if (error instanceof MailError) {
        out(json ? JSON.stringify({ domain, error: error.reply }) : `${domain}: ${error.reply}`);
        return 1;
      }
      throw error;
    }
    const records: LinkRecord[] = [];
    for (const observation of observations) records.push(await memory.record(observation));
    const levels = records.map((r) => r.level);
    const weakest = levels.includes('none') ? 'none' : levels.includes('tls') ? 'tls' : 'tls-verified';
    if (json) out(JSON.stringify({ domain, level: weakest, mx: records }, null, 2));
    else out([`${domain}: ${records.length} MX host(s); every MX reaches at least level ${weakest}`, ...records.map(formatRecord)].join('\n'));
    return 0;
  });
}
