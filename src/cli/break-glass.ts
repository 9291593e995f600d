/** `sealgate break-glass status|rotate`: the emergency access credential (issue 13). */
import type { Config } from '../config/index.ts';
import { adminActor } from './admin-actor.ts';
import type { CliDeps, Command } from './command.ts';
import { EX } from './exit.ts';
import { out, outJson } from './output.ts';
import { withRuntime } from './with-runtime.ts';

/** The lines that hand the credential over: printed once, never stored or logged. */
export function credentialLines(credential: string, portalUrl: string): string[] {
  return [
    'Emergency access credential (shown this once; Sealgate keeps only its hash):',
    '',
    `    ${credential}`,
    '',
    'Print or write it down, seal it in an envelope and keep it where your emergency procedure says.',
    `When every administrator is locked out, it opens the admin console once at ${portalUrl}/admin/break-glass;`,
    'its use is in the audit log and mailed to every administrator. `sealgate break-glass rotate` makes a new one.',
  ];
}

export function portalUrl(config: Config): string {
  return (config.web.publicUrl ?? `https://${config.hostname}:${config.web.port}`).replace(/\/+$/, '');
}

/** `init`: the first credential, only if none was ever made (a second init does not mint another). */
export async function firstCredential(config: Config, deps: CliDeps): Promise<string[]> {
  return withRuntime(config, deps, async ({ users, audit }) => {
    if (await users.breakGlass.everMade()) return ['an emergency access credential was made before; `sealgate break-glass rotate` replaces it'];
    const credential = await users.breakGlass.rotate();
    await audit.record({ actor: adminActor(), action: 'break-glass.create', protocol: 'cli', detail: { by: 'init' } });
    return credentialLines(credential, portalUrl(config));
  });
}

export const breakGlassCommands: Command[] = [
  {
    name: 'break-glass status',
    summary: 'whether an emergency access credential is ready, and when one was last used',
    json: true,
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ users }) => {
        const status = await users.breakGlass.status();
        if (ctx.json) {
          outJson(status);
          return EX.ok;
        }
        out([
          status.active ? `ready: made ${new Date(status.active.createdAt).toISOString()}` : 'none ready: `sealgate break-glass rotate` makes one',
          status.lastUsed ? `last used ${new Date(status.lastUsed.at).toISOString()} from ${status.lastUsed.ip ?? 'an unknown address'}` : 'never used',
        ].join('\n'));
        return EX.ok;
      }),
  },
  {
    name: 'break-glass rotate',
    summary: 'make a new emergency access credential (the old one stops working) and print it once (audited)',
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ users, audit }) => {
        const before = await users.breakGlass.status();
        const credential = await users.breakGlass.rotate();
        await audit.record({ actor: adminActor(), action: 'break-glass.rotate', protocol: 'cli', detail: { replaced: before.active !== null } });
        out(credentialLines(credential, portalUrl(ctx.config)).join('\n'));
        return EX.ok;
      }),
  },
];
