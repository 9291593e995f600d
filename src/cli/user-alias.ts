/**
 * `sealgate user alias add|remove|list USER [ADDRESS|@domain]`: the sender addresses a user
 * may use besides their own (checked at MAIL FROM and on the From: header of submissions).
 */
import type { Command } from './command.ts';
import { CliError, EX } from './exit.ts';
import { out, outJson } from './output.ts';
import { withRuntime } from './with-runtime.ts';

export const userAliasCommands: Command[] = [
  {
    name: 'user alias add',
    usage: 'NAME ADDRESS|@DOMAIN',
    summary: 'let NAME send as ADDRESS, or as any address of DOMAIN',
    args: { min: 2, max: 2 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ users }) => {
        const [user, alias] = ctx.args;
        const added = await users.addAlias(user, alias);
        out(added.startsWith('@') ? `user ${user} may now send as any address of ${added.slice(1)}` : `user ${user} may now send as ${added}`);
        return EX.ok;
      }),
  },
  {
    name: 'user alias remove',
    usage: 'NAME ADDRESS|@DOMAIN',
    summary: 'take an alias away from NAME',
    args: { min: 2, max: 2 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ users }) => {
        const [user, alias] = ctx.args;
        if (!(await users.removeAlias(user, alias))) throw new CliError(EX.noInput, `user ${user} has no alias ${alias}`);
        out(`user ${user} may no longer send as ${alias.toLowerCase()}`);
        return EX.ok;
      }),
  },
  {
    name: 'user alias list',
    usage: 'NAME',
    summary: 'the addresses NAME may send as besides NAME itself',
    json: true,
    args: { min: 1, max: 1 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ users }) => {
        const [user] = ctx.args;
        const aliases = await users.listAliases(user);
        if (ctx.json) outJson(aliases);
        else out(aliases.length ? aliases.join('\n') : `user ${user} has no aliases (sends only as ${user})`);
        return EX.ok;
      }),
  },
];
