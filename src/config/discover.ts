import { existsSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';

/** Where a daemon's config lives on a packaged system (like /etc/postfix/main.cf). */
export const SYSTEM_CONFIG_FILE = '/etc/sealgate/sealgate.json';
export const LOCAL_CONFIG_FILE = 'sealgate.json';

export interface ConfigSource {
  /** The file to read, absolute; null: built-in defaults (and SEALGATE_* variables). */
  file: string | null;
  /** How it was found: `--config`, `SEALGATE_CONFIG`, the system file, the working directory, or nothing. */
  origin: '--config' | 'SEALGATE_CONFIG' | 'system' | 'working directory' | 'defaults';
}

/**
 * The way daemons find their configuration: `--config FILE`, else `SEALGATE_CONFIG`, else
 * /etc/sealgate/sealgate.json, else ./sealgate.json, else the built-in defaults. A file that
 * is named (flag or variable) must exist; the two conventional places are only looked at.
 */
export function findConfig(options: { flag?: string; env: NodeJS.ProcessEnv; cwd?: string; systemFile?: string; exists?: (file: string) => boolean }): ConfigSource {
  const cwd = options.cwd ?? process.cwd();
  const exists = options.exists ?? existsSync;
  if (options.flag) return { file: path.resolve(cwd, options.flag), origin: '--config' };
  if (options.env.SEALGATE_CONFIG) return { file: path.resolve(cwd, options.env.SEALGATE_CONFIG), origin: 'SEALGATE_CONFIG' };
  const system = options.systemFile ?? SYSTEM_CONFIG_FILE;
  if (exists(system)) return { file: system, origin: 'system' };
  const local = path.resolve(cwd, LOCAL_CONFIG_FILE);
  if (exists(local)) return { file: local, origin: 'working directory' };
  return { file: null, origin: 'defaults' };
}

/** One line for stderr: which configuration a command used. */
export function describeSource(source: ConfigSource, dataDir: string, systemFile = SYSTEM_CONFIG_FILE): string {
  const used = source.file
    ? `config ${source.file}${source.origin === '--config' ? ' (--config)' : source.origin === 'SEALGATE_CONFIG' ? ' (SEALGATE_CONFIG)' : ''}`
    : `no config file (no --config, no SEALGATE_CONFIG, no ${systemFile}, no ./${LOCAL_CONFIG_FILE}): built-in defaults`;
  return `${used}, data dir ${dataDir}`;
}

/**
 * A config file that was found rather than named must be the admin's own: owned by the user
 * running the command or by root, and writable by nobody else (as OpenSSH's StrictModes and
 * git's safe.directory). Otherwise anyone who can write the working directory (`/tmp`, a shared
 * folder) picks the data dir, the database and the relays of a command root runs there.
 * Returns the reason to refuse, or null. A file named by --config or SEALGATE_CONFIG is the
 * admin's explicit choice and is not checked.
 */
export function untrustedConfigReason(source: ConfigSource, options: { uid?: number; stat?: (file: string) => Pick<Stats, 'uid' | 'mode'> } = {}): string | null {
  if (!source.file || source.origin === '--config' || source.origin === 'SEALGATE_CONFIG') return null;
  const uid = options.uid ?? process.getuid?.();
  if (uid === undefined) return null; // no POSIX owners (Windows)
  const { uid: owner, mode } = (options.stat ?? statSync)(source.file);
  if (owner !== uid && owner !== 0) return `${source.file} (found in the ${source.origin === 'system' ? 'system location' : 'working directory'}) belongs to uid ${owner}, not to you or root: not used; name it with --config if you trust it`;
  if (mode & 0o022) return `${source.file} (found in the ${source.origin === 'system' ? 'system location' : 'working directory'}) is writable by ${mode & 0o002 ? 'everyone' : 'its group'}: not used; chmod go-w it, or name it with --config`;
  return null;
}
