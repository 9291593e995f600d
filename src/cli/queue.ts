/** `sealgate queue …`: what postqueue and postsuper do for Postfix. */
import type { QueueSelector } from '../queue/index.ts';
import { adminActor } from './admin-actor.ts';
import type { Command, CommandContext } from './command.ts';
import { CliError, EX, UsageError } from './exit.ts';
import { formatQueueList, formatQueueShow, formatTotals } from './format.ts';
import { out, outJson } from './output.ts';
import { noticeStates } from './pickup-notices.ts';
import { withRuntime } from './with-runtime.ts';

const SELECT_OPTIONS = {
  domain: { type: 'string', value: 'D', help: 'every pending recipient at domain D' },
  sender: { type: 'string', value: 'S', help: 'every pending recipient of mail from S (<> for the null sender)' },
  all: { type: 'boolean', help: 'every pending recipient in the queue' },
} as const;

/** IDs, or exactly one of --domain / --sender / --all. */
function selectors(ctx: CommandContext, verb: string): QueueSelector[] {
  const { domain, sender, all } = ctx.options;
  const chosen = [domain !== undefined, sender !== undefined, all === true, ctx.args.length > 0].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError(`queue ${verb} needs message IDs, or one of --domain D, --sender S or --all`);
  if (typeof domain === 'string') return [{ domain }];
  // An empty value is most often an empty shell variable: never read it as the null sender,
  // which is spelled <> (as postqueue prints it).
  if (typeof sender === 'string' && sender.trim() === '') throw new UsageError(`queue ${verb} --sender needs an address, or <> for the null sender`);
  if (typeof sender === 'string') return [{ sender: sender.trim() }];
  if (all === true) return [{ all: true }];
  return ctx.args.map((messageId) => ({ messageId }));
}

function what(selector: QueueSelector): string {
  if ('messageId' in selector) return selector.messageId;
  if ('domain' in selector) return `domain ${selector.domain}`;
  if ('sender' in selector) return `sender <${selector.sender.replace(/^<|>$/g, '')}>`;
  return 'the whole queue';
}

const inFlightNote = (n: number) => (n ? `; ${n} being delivered right now finish their attempt` : '');

export const queueCommands: Command[] = [
  {
    name: 'queue list',
    usage: '[--all]',
    summary: 'messages in the queue with their recipients, and a totals line (like mailq)',
    options: { all: { type: 'boolean', help: 'include finished messages' } },
    json: true,
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ queue }) => {
        const list = await queue.list({ state: ctx.options.all ? undefined : 'active', limit: 500 });
        if (ctx.json) {
          outJson(list);
          return EX.ok;
        }
        // Empty: the totals line alone says so.
        if (list.length) out(formatQueueList(list, await noticeStates(queue, list)));
        out(formatTotals(await queue.totals()));
        return EX.ok;
      }),
  },
  {
    name: 'queue show',
    usage: 'ID',
    summary: 'envelope, recipients and delivery receipts of one message',
    details: ['An old ID that starts with "-" is taken as it is, or after "--": sealgate queue show -- -VWXU…'],
    json: true,
    args: { min: 1, max: 1 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ queue }) => {
        const detail = await queue.show(ctx.args[0]);
        if (!detail) throw new CliError(EX.noInput, `no message ${ctx.args[0]} in the queue (sealgate queue list --all shows every ID)`);
        if (ctx.json) outJson(detail);
        else out(formatQueueShow(detail, await noticeStates(queue, [detail])));
        return EX.ok;
      }),
  },
  {
    name: 'queue retry',
    usage: 'ID',
    summary: "make one message's pending recipients due now",
    args: { min: 1, max: 1 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ queue, audit }) => {
        const id = ctx.args[0];
        if (!(await queue.show(id))) throw new CliError(EX.noInput, `no message ${id} in the queue`);
        const n = await queue.retryNow(id);
        await audit.record({ actor: adminActor(), action: 'queue.retry', target: id, protocol: 'cli', detail: { recipients: n } });
        out(n ? `${n} recipient(s) of ${id} are due now (a running gateway picks them up within a second)` : `nothing waiting for ${id} (finished, held or being delivered)`);
        return EX.ok;
      }),
  },
  {
    name: 'queue flush',
    summary: 'make all deferred mail due now (postqueue -f); held mail stays held',
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ queue, audit }) => {
        const n = await queue.flush();
        await audit.record({ actor: adminActor(), action: 'queue.flush', protocol: 'cli', detail: { recipients: n } });
        out(n ? `${n} deferred recipient(s) are due now (a running gateway picks them up within a second)` : 'nothing deferred');
        return EX.ok;
      }),
  },
  {
    name: 'queue delete',
    usage: 'ID… | --domain D | --sender S | --all --yes',
    summary: 'remove messages (by ID), or the pending recipients of a domain, a sender or all, without a bounce (postsuper -d)',
    details: [
      'With IDs the whole message goes. With --domain, --sender or --all only recipients still waiting go;',
      'one being delivered right now is left (it finishes its attempt), and the count says so.',
    ],
    options: { ...SELECT_OPTIONS, yes: { type: 'boolean', short: 'y', help: 'confirm --all' } },
    run: (ctx) => {
      const chosen = selectors(ctx, 'delete');
      if ('all' in chosen[0] && ctx.options.yes !== true) throw new UsageError('queue delete --all removes every pending recipient in the queue: add --yes to confirm');
      return withRuntime(ctx.config, ctx.deps, async ({ queue, audit }) => {
        if ('messageId' in chosen[0]) {
          const missing: string[] = [];
          let deleted = 0;
          for (const selector of chosen as { messageId: string }[]) {
            if (await queue.remove(selector.messageId)) {
              deleted++;
              await audit.record({ actor: adminActor(), action: 'queue.delete', target: selector.messageId, protocol: 'cli', detail: {} });
            } else missing.push(selector.messageId);
          }
          out(`deleted ${deleted} message(s)`);
          if (missing.length) throw new CliError(EX.noInput, `no message ${missing.join(', ')} in the queue`);
          return EX.ok;
        }
        const result = await queue.deletePending(chosen[0]);
        await audit.record({ actor: adminActor(), action: 'queue.delete', target: what(chosen[0]), protocol: 'cli', detail: { recipients: result.recipients, messages: result.messages } });
        out(`deleted ${result.recipients} recipient(s) of ${what(chosen[0])}; ${result.messages} message(s) left the queue${inFlightNote(result.inFlight)}`);
        return EX.ok;
      });
    },
  },
  {
    name: 'queue hold',
    usage: 'ID… | --domain D | --sender S | --all',
    summary: 'keep pending mail from being delivered until `queue release` (postsuper -h); survives restarts',
    options: SELECT_OPTIONS,
    run: (ctx) => {
      const chosen = selectors(ctx, 'hold');
      return withRuntime(ctx.config, ctx.deps, async ({ queue, audit }) => {
        let held = 0;
        let inFlight = 0;
        for (const selector of chosen) {
          const result = await queue.hold(selector);
          held += result.recipients;
          inFlight += result.inFlight;
          await audit.record({ actor: adminActor(), action: 'queue.hold', target: what(selector), protocol: 'cli', detail: { recipients: result.recipients } });
        }
        out(`held ${held} recipient(s)${inFlightNote(inFlight)}`);
        return EX.ok;
      });
    },
  },
  {
    name: 'queue release',
    usage: 'ID… | --domain D | --sender S | --all',
    summary: 'release held mail (postsuper -H); it is due at once',
    options: SELECT_OPTIONS,
    run: (ctx) => {
      const chosen = selectors(ctx, 'release');
      return withRuntime(ctx.config, ctx.deps, async ({ queue, audit }) => {
        let released = 0;
        for (const selector of chosen) {
          const n = await queue.unhold(selector);
          released += n;
          await audit.record({ actor: adminActor(), action: 'queue.release', target: what(selector), protocol: 'cli', detail: { recipients: n } });
        }
        out(released ? `released ${released} recipient(s); a running gateway delivers them within a second` : 'nothing was held');
        return EX.ok;
      });
    },
  },
  {
    name: 'queue verify',
    summary: 'open every pending body to the end; list any that cannot be decrypted (exit 65 if one cannot)',
    json: true,
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ queue }) => {
        const damaged = await queue.verify();
        if (ctx.json) outJson({ damaged });
        else out(damaged.length ? `damaged: ${damaged.join(' ')}` : 'all pending bodies are readable');
        return damaged.length ? EX.data : EX.ok;
      }),
  },
];
