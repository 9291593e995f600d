import type { AuditLog } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import type { LinkRecord } from '../linksec/index.ts';
import type { Store } from '../store/index.ts';
import type { CliDeps, Command } from './command.ts';
import { UsageError } from './exit.ts';
import { out } from './output.ts';
import { withRuntime } from './with-runtime.ts';
import { adminActor } from './admin-actor.ts';

function formatRecord(r: LinkRecord & { daneDetail?: string; policyNote?: string; kept?: boolean }): string {
  const tls = r.tlsVersion ? `${r.tlsVersion} ${r.cipher ?? ''}` : r.starttlsOffered ? 'STARTTLS offered, handshake failed' : 'no STARTTLS';
  const cert = r.tlsVersion ? (r.certValid ? `certificate valid (${r.certSubject ?? ''})` : `certificate NOT valid: ${r.certError ?? 'unknown'}`) : '';
  const dane = r.dane ? `DANE ${r.dane === 'matched' ? 'matched' : 'MISMATCH'}${r.daneDetail ? `: ${r.daneDetail}` : ''}` : 'DANE not in use (no TLSA records validated under DNSSEC for this MX)';
  return [
    `  ${r.mxHost} [${r.ip ?? '-'}]  level ${r.level}`,
    `      ${tls}${cert ? `; ${cert}` : ''}`,
    `      ${dane}${r.policyNote ? `; ${r.policyNote}` : ''}`,
    `      REQUIRETLS ${r.requireTlsAdvertised ? 'advertised' : 'not advertised'}${r.error ? `; error: ${r.error}` : ''}`,
    `      seen ${new Date(r.at).toISOString()}, holds until ${new Date(r.expiresAt).toISOString()}`,
    ...(r.kept ? ['      NOT recorded: a stronger level proved before still holds and delivery stays held to it (`domain forget` lowers it)'] : []),
  ].join('\n');
}

async function pinCommand(store: Store, audit: Pick<AuditLog, 'record'>, sub: string, domain: string | undefined, level: string | undefined, note: string | undefined, json = false): Promise<number> {
  const { LinkPins } = await import('../linksec/index.ts');
  const pins = new LinkPins(store);
  if (sub === 'pins') {
    const list = await pins.list();
    if (json) out(JSON.stringify(list, null, 2));
    else out(list.length ? list.map((p) => `${p.domain}  at least ${p.minLevel}${p.note ? `  (${p.note})` : ''}`).join('\n') : 'no pins');
    return 0;
  }
  if (!domain) throw new UsageError(`domain ${sub} needs a DOMAIN`);
  if (sub === 'unpin') {
    const before = await pins.pinOf(domain);
    const removed = await pins.unpin(domain);
    if (removed) await audit.record({ actor: adminActor(), action: 'domain.unpin', target: domain.toLowerCase(), protocol: 'cli', detail: { before: before ?? null, after: null } });
    out(removed ? `${domain}: pin removed` : `${domain} was not pinned`);
    return 0;
  }
  if (!level) throw new UsageError('domain pin needs DOMAIN LEVEL (none, tls, tls-verified or dane)');
  const before = await pins.pinOf(domain);
  const pin = await pins.pin(domain, level, note ?? null, Date.now());
  await audit.record({ actor: adminActor(), action: 'domain.pin', target: pin.domain, protocol: 'cli', detail: { before: before ?? null, after: pin.minLevel, note: pin.note } });
  out(`${pin.domain}: every message is held to at least ${pin.minLevel}`);
  return 0;
}

export async function domainCommand(config: Config, deps: CliDeps, sub: string | undefined, domain: string | undefined, json: boolean, extra: { level?: string; note?: string; force?: boolean; rotate?: boolean } = {}): Promise<number> {
  return withRuntime(config, deps, async ({ store, logger, audit, vault }) => {
    // Loaded here, not at the top: the probe pulls in the delivery stack, which would slow
    // every other sealgate command by about a second.
    const { LinkSecurityMemory } = await import('../linksec/index.ts');
    const memory = new LinkSecurityMemory(store);
    if (sub === 'pin' || sub === 'unpin' || sub === 'pins') return pinCommand(store, audit, sub, domain, extra.level, extra.note, json);
    if (sub === 'export') {
      out(JSON.stringify(await memory.list(domain), null, 2));
      return 0;
    }
    if (sub === 'import') {
      if (!domain) throw new UsageError('domain import needs a FILE (JSON written by `domain export`)');
      return (await import('./domain-import.ts')).importCommand(memory, logger, domain, { force: extra.force === true, out, audit });
    }
    if (sub === 'forget') {
      if (!domain) throw new UsageError('domain forget needs a DOMAIN (and optionally one MX host)');
      const mxHost = extra.level;
      const before = await memory.list(domain);
      const removed = await memory.forget(domain, mxHost);
      const forgotten = before.filter((r) => !mxHost || r.mxHost === mxHost.toLowerCase()).map((r) => `${r.mxHost}=${r.level}`);
      if (removed) await audit.record({ actor: adminActor(), action: 'domain.forget', target: domain.toLowerCase(), protocol: 'cli', detail: { mxHost: mxHost ?? null, before: forgotten, after: [] } });
      logger.warn({ audit: true, action: 'domain.forget', domain: domain.toLowerCase(), mxHost: mxHost ?? null, removed, levels: before.filter((r) => !mxHost || r.mxHost === mxHost.toLowerCase()).map((r) => `${r.mxHost}=${r.level}`) }, 'link-security records forgotten by an admin');
      out(removed ? `${domain}: forgot ${removed} record(s); the next session starts from nothing` : `${domain}: nothing recorded`);
      return 0;
    }
    if (sub === 'dkim') {
      if (!domain) throw new UsageError('domain dkim needs a DOMAIN');
      return (await import('./domain-dkim.ts')).dkimCommand({ store, vault, audit }, domain, extra.rotate === true, json, out);
    }
    if (sub === 'show') {
      const records = await memory.list(domain);
      out(json ? JSON.stringify(records, null, 2) : records.length ? records.map(formatRecord).join('\n') : 'nothing recorded yet');
      return 0;
    }
    if (sub !== 'check' || !domain) throw new UsageError('domain: use `domain check DOMAIN`, `domain dkim DOMAIN [--rotate]`, `domain show [DOMAIN]`, `domain export [DOMAIN]`, `domain import FILE [--force]`, `domain forget DOMAIN [MX]`, `domain pin DOMAIN LEVEL`, `domain unpin DOMAIN` or `domain pins`');
    return (await import('./domain-check.ts')).checkCommand(config, store, logger, domain, json, out, vault);
  });
}

/** `domain …` as commands: each names its `domainCommand` part (`check` is in domainCommand too). */
function part(name: string, usage: string | undefined, summary: string, extra: Partial<Command> = {}): Command {
  const sub = name.split(' ')[1];
  return {
    name,
    usage,
    summary,
    ...extra,
    run: (ctx) => domainCommand(ctx.config, ctx.deps, sub, ctx.args[0], ctx.json, { level: ctx.args[1], note: ctx.options.note as string | undefined, force: ctx.options.force === true, rotate: ctx.options.rotate === true }),
  };
}

export const domainCommands: Command[] = [
  part('domain check', 'DOMAIN', 'connect to each MX of DOMAIN: STARTTLS, certificate, REQUIRETLS, the link level it earns (recorded in the link-security memory)', { json: true, args: { min: 1, max: 1 } }),
  part('domain dkim', 'DOMAIN [--rotate]', 'make the Ed25519 and RSA-2048 DKIM keys of DOMAIN (kept sealed under the master key) and print the TXT records to publish', {
    json: true,
    options: { rotate: { type: 'boolean', help: 'new keys now; the old ones are retired (keep their records a few days)' } },
    args: { min: 1, max: 1 },
  }),
  part('domain show', '[DOMAIN]', 'what the link-security memory holds', { json: true, args: { max: 1 } }),
  part('domain export', '[DOMAIN]', 'the memory as JSON, to share with other sites (always JSON)', { args: { max: 1 } }),
  part('domain import', 'FILE [--force]', "records from another site's export (validated; may raise a level or add evidence, never lower one unless --force, audited)", {
    options: { force: { type: 'boolean', help: 'let the import lower what was proved here (each lowering is logged as an audit line)' } },
    args: { min: 1, max: 1 },
  }),
  part('domain forget', 'DOMAIN [MX]', 'drop what DOMAIN (or one MX) proved, so a weaker link is allowed', { args: { min: 1, max: 2 } }),
  part('domain pin', 'DOMAIN LEVEL [--note TEXT]', 'hold mail to DOMAIN to at least LEVEL (none, tls, tls-verified, dane)', {
    options: { note: { type: 'string', value: 'TEXT', help: 'why (shown by `domain pins`)' } },
    args: { min: 2, max: 2 },
  }),
  part('domain unpin', 'DOMAIN', 'remove the pin of DOMAIN', { args: { min: 1, max: 1 } }),
  part('domain pins', undefined, 'every pinned domain and its minimum level', { json: true, args: { max: 0 } }),
];
