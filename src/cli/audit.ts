/** `sealgate audit`: check the hash chain, list and export events, sign the head now. */
import { AuditChainBrokenError, auditCsv, type AuditEvent } from '../audit/index.ts';
import type { Command, CommandContext } from './command.ts';
import { CliError, EX, UsageError } from './exit.ts';
import { out } from './output.ts';
import { withRuntime } from './with-runtime.ts';

function time(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const at = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}([T ][\d:.]+Z?)?$/.test(value) ? Date.parse(value.includes('T') || value.includes(' ') ? value.replace(' ', 'T') : `${value}T00:00:00Z`) : NaN;
  if (Number.isNaN(at)) throw new UsageError(`--${name} takes a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ), not ${JSON.stringify(value)}`);
  return at;
}

function limit(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[1-9]\d{0,5}$/.test(value)) throw new UsageError(`--limit takes a number from 1 to 999999, not ${JSON.stringify(value)}`);
  return Number(value);
}

const filters = {
  action: { type: 'string', value: 'A', help: 'only actions starting with A (login, pickup.retract …)' },
  actor: { type: 'string', value: 'U', help: 'only events by U' },
  target: { type: 'string', value: 'T', help: 'only events about T (a message id, a domain, a user)' },
  since: { type: 'string', value: 'TIME', help: 'from TIME on (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)' },
  until: { type: 'string', value: 'TIME', help: 'before TIME' },
  limit: { type: 'string', value: 'N', help: 'at most N events (default 10000)' },
} as const;

function filterOf(ctx: CommandContext) {
  const o = ctx.options;
  return { action: o.action as string | undefined, actor: o.actor as string | undefined, target: o.target as string | undefined, since: time(o.since, 'since'), until: time(o.until, 'until'), limit: limit(o.limit) };
}

function line(e: AuditEvent): string {
  const where = [e.protocol, e.ip].filter(Boolean).join(' ');
  const detail = Object.keys(e.detail).length ? ` ${JSON.stringify(e.detail)}` : '';
  return `${String(e.seq).padStart(6)} ${new Date(e.at).toISOString()} ${e.actor} ${e.action}${e.target ? ` ${e.target}` : ''}${where ? ` (${where})` : ''}${detail}`;
}

export const auditCommands: Command[] = [
  {
    name: 'audit verify',
    summary: 'check the audit chain and its signed checkpoints; names the first broken event (exit 65)',
    details: ['Finds an event edited, removed, reordered, or a log cut short or rebuilt since its last signed checkpoint.'],
    json: true,
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ audit }) => {
        const report = await audit.verify();
        if (ctx.json) out(JSON.stringify(report, null, 2));
        else if (report.ok) out(`audit log intact: ${report.events} event(s), ${report.checkpoints} signed checkpoint(s), ${report.unsigned} event(s) after the last one; signing key ${report.publicKey}`);
        if (!report.ok) throw new CliError(EX.data, `audit log broken at event ${report.broken!.seq}: ${report.broken!.sentence}`);
        return 0;
      }),
  },
  {
    name: 'audit list',
    summary: 'the audit events, oldest first',
    options: filters,
    json: true,
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ audit }) => {
        const events = await audit.list(filterOf(ctx));
        if (ctx.json) out(JSON.stringify(events, null, 2));
        else out(events.length ? events.map(line).join('\n') : 'no audit events match');
        return 0;
      }),
  },
  {
    name: 'audit export',
    usage: '--format csv|json',
    summary: 'the audit events as CSV (RFC 4180) or JSON on stdout, with their hashes',
    options: { format: { type: 'string', value: 'F', help: 'csv or json' }, ...filters },
    args: { max: 0 },
    run: (ctx) => {
      const format = ctx.options.format;
      if (format !== 'csv' && format !== 'json') throw new UsageError('audit export needs --format csv or --format json');
      return withRuntime(ctx.config, ctx.deps, async ({ audit }) => {
        const events = await audit.list(filterOf(ctx));
        process.stdout.write(format === 'csv' ? auditCsv(events) : `${JSON.stringify(events, null, 2)}\n`);
        return 0;
      });
    },
  },
  {
    name: 'audit checkpoint',
    summary: 'sign the head of the chain now (the gateway does every 100 events and when it stops); refuses (exit 65) when the chain no longer follows the last signed checkpoint',
    json: true,
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ audit }) => {
        const checkpoint = await audit.checkpoint().catch((error: Error) => {
          if (error instanceof AuditChainBrokenError) throw new CliError(EX.data, error.message);
          throw error;
        });
        if (ctx.json) out(JSON.stringify(checkpoint, null, 2));
        else out(checkpoint ? `signed event ${checkpoint.seq} (${checkpoint.hash})` : 'the audit log is empty');
        return 0;
      }),
  },
];
