import type { Config } from '../config/index.ts';
import { out, UsageError, withRuntime, type CliDeps } from './index.ts';

/**
 * `sealgate user alias add|remove|list USER [ADDRESS|@domain]`: the sender addresses a user
 * may use besides their own (checked at MAIL FROM and on the From: header of submissions).
 */
export async function userAliasCommand(config: Config, deps: CliDeps, action: string | undefined, user: string | undefined, alias: string | undefined): Promise<number> {
  if (!user || (action !== 'list' && !alias) || !['add', 'remove', 'list'].includes(action ?? '')) {
    throw new UsageError('user alias needs add|remove USER ADDRESS (or @domain), or list USER');
  }
  return withRuntime(config, deps, async ({ users }) => {
    if (action === 'add') {
      const added = await users.addAlias(user, alias!);
      out(added.startsWith('@') ? `user ${user} may now send as any address of ${added.slice(1)}` : `user ${user} may now send as ${added}`);
      return 0;
    }
    if (action === 'remove') {
      if (!(await users.removeAlias(user, alias!))) {
        process.stderr.write(`sealgate: user ${user} has no alias ${alias}\n`);
        return 1;
      }
      out(`user ${user} may no longer send as ${alias!.toLowerCase()}`);
      return 0;
    }
    const aliases = await users.listAliases(user);
    out(aliases.length ? aliases.join('\n') : `user ${user} has no aliases (sends only as ${user})`);
    return 0;
  });
}
