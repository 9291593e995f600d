/** `sealgate user …`: submission users, their standing requirements and pickup choice. */
import { randomBytes } from 'node:crypto';
import type { LinkRequirement } from '../kernel/index.ts';
import { adminActor } from './admin-actor.ts';
import type { Command, CommandContext } from './command.ts';
import { CliError, EX, UsageError } from './exit.ts';
import { out, outJson } from './output.ts';
import { withRuntime } from './with-runtime.ts';

const password = { password: { type: 'string', value: 'P', help: 'the password (default: $SEALGATE_PASSWORD, else a strong one is generated and shown once)' } } as const;

async function setPassword(ctx: CommandContext, verb: 'add' | 'passwd'): Promise<number> {
  const [name] = ctx.args;
  return withRuntime(ctx.config, ctx.deps, async ({ users }) => {
    const given = (ctx.options.password as string | undefined) ?? process.env.SEALGATE_PASSWORD;
    const secret = given ?? randomBytes(18).toString('base64url');
    if (verb === 'add') await users.add(name, secret);
    else await users.setPassword(name, secret);
    out(`user ${name} ${verb === 'add' ? 'added' : 'password changed'}`);
    if (!given) out(`password: ${secret}\n(shown once; it is stored only as an Argon2id hash)`);
    return EX.ok;
  });
}

export const userCommands: Command[] = [
  {
    name: 'user add',
    usage: 'NAME [--password P]',
    summary: 'add a submission user (a strong password is generated when none is given)',
    options: password,
    args: { min: 1, max: 1 },
    run: (ctx) => setPassword(ctx, 'add'),
  },
  {
    name: 'user passwd',
    usage: 'NAME [--password P]',
    summary: "change a user's password",
    options: password,
    args: { min: 1, max: 1 },
    run: (ctx) => setPassword(ctx, 'passwd'),
  },
  {
    name: 'user list',
    summary: 'the submission users, with their standing requirement and pickup choice',
    json: true,
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ users }) => {
        const list = await users.list();
        if (ctx.json) outJson(list);
        else out(list.length ? list.map((u) => `${u.username}${u.disabled ? '  (disabled)' : ''}${u.requiredLevel ? `  (requires ${u.requiredLevel})` : ''}${u.pickupAlways ? '  (always pickup)' : ''}${u.anonymous ? '  (anonymous)' : ''}`).join('\n') : 'no users yet: sealgate user add NAME');
        return EX.ok;
      }),
  },
  {
    name: 'user remove',
    usage: 'NAME',
    summary: 'remove a submission user',
    args: { min: 1, max: 1 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ users }) => {
        const [name] = ctx.args;
        if (!(await users.remove(name))) throw new CliError(EX.noInput, `no user ${name} (sealgate user list shows them)`);
        out(`user ${name} removed`);
        return EX.ok;
      }),
  },
  {
    name: 'user require',
    usage: 'NAME LEVEL',
    summary: 'hold every message NAME submits to at least LEVEL (none, tls, tls-verified, dane; none clears)',
    args: { min: 2, max: 2 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ users }) => {
        const [name, level] = ctx.args;
        await users.setRequirement(name, level as LinkRequirement);
        out(level === 'none' ? `user ${name}: no standing requirement` : `user ${name}: every message is held to at least ${level}`);
        return EX.ok;
      }),
  },
  {
    name: 'user pickup',
    usage: 'NAME always|off',
    summary: 'every message NAME submits becomes a Secure Message Pickup (or not)',
    args: { min: 2, max: 2 },
    run: (ctx) => {
      const [name, choice] = ctx.args;
      if (choice !== 'always' && choice !== 'off') throw new UsageError(`user pickup takes always or off, not ${JSON.stringify(choice)}`);
      return withRuntime(ctx.config, ctx.deps, async ({ users }) => {
        await users.setPickupAlways(name, choice === 'always');
        out(choice === 'always' ? `user ${name}: every message becomes a Secure Message Pickup` : `user ${name}: messages go out as usual`);
        return EX.ok;
      });
    },
  },
  {
    name: 'user anonymous',
    usage: 'NAME on|off',
    summary: "every message NAME submits leaves without the client's address, names or mail program (or as usual)",
    details: ['The pseudonym in its Received: line leads back to the client only through sealgate queue show and the audit trail.'],
    args: { min: 2, max: 2 },
    run: (ctx) => {
      const [name, choice] = ctx.args;
      if (choice !== 'on' && choice !== 'off') throw new UsageError(`user anonymous takes on or off, not ${JSON.stringify(choice)}`);
      return withRuntime(ctx.config, ctx.deps, async ({ users, audit }) => {
        await users.setAnonymous(name, choice === 'on');
        await audit.record({ actor: adminActor(), action: 'user.anonymous', target: name, protocol: 'cli', detail: { anonymous: choice === 'on' } });
        out(choice === 'on' ? `user ${name}: every message is submitted anonymously (a pseudonym in place of the client's address and names)` : `user ${name}: messages carry the usual trace`);
        return EX.ok;
      });
    },
  },
];
