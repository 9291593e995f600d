import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configSchema, type Config } from './schema.ts';
import { describeIssue, type ConfigOrigins } from './issues.ts';

export class ConfigError extends Error {
  /** `missing`: a config file that was named does not exist (exit 66, not 78). */
  readonly missing: boolean;
  constructor(message: string, options: { missing?: boolean } = {}) {
    super(message);
    this.name = 'ConfigError';
    this.missing = options.missing ?? false;
  }
}

// SEALGATE_* variables that are not config keys: secrets, CLI input, test and fault hooks.
const NOT_CONFIG = /^SEALGATE_(MASTER_KEY|CONFIG|PASSWORD|BACKUP_PASSPHRASE|DEBUG|CRASH_[A-Z_]+|TEST_[A-Z_]+|SKIP_[A-Z_]+)$/;

/** Each config key an environment variable set, by dotted path: `delivery.port` → `SEALGATE_DELIVERY__PORT=abc`. */
export type EnvSources = Map<string, string>;

/**
 * Environment overrides: SEALGATE_<PATH> with `__` between levels, e.g.
 * SEALGATE_DELIVERY__PORT=2526, SEALGATE_STORE__URL=postgres://…; values are parsed as JSON
 * when they look like JSON (numbers, booleans, arrays), else taken as strings.
 */
export function envOverrides(env: NodeJS.ProcessEnv, sources?: EnvSources): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('SEALGATE_') || raw === undefined || NOT_CONFIG.test(name)) continue;
    const keys = name
      .slice('SEALGATE_'.length)
      .split('__')
      .map((part) => part.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
    let node: Record<string, unknown> = out;
    for (const key of keys.slice(0, -1)) {
      node[key] = (node[key] as Record<string, unknown>) ?? {};
      node = node[key] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]] = parseEnvValue(raw);
    sources?.set(keys.join('.'), `${name}=${raw}`);
  }
  return out;
}

function parseEnvValue(raw: string): unknown {
  if (/^(true|false|-?\d+(\.\d+)?|\[.*\]|\{.*\})$/s.test(raw.trim())) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    if (value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object' && !Array.isArray(current)) {
      out[key] = deepMerge(current as Record<string, unknown>, value as Record<string, unknown>);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Validates and names the bad key and the reason: `delivery.port: must be at most 65535`. */
export function parseConfig(input: unknown, origins: ConfigOrigins = {}): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${describeIssue(issue, input, origins)}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Record<string, unknown>;
}

/** File (JSON) + environment + flags, in that order of precedence (later wins). */
export function loadConfig(options: LoadOptions = {}): Config {
  let fromFile: Record<string, unknown> = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ConfigError(`config file ${options.file} does not exist`, { missing: true });
      if (code === 'EACCES') throw new ConfigError(`config file ${options.file} is not readable by this user`);
      if (code === 'EISDIR') throw new ConfigError(`config file ${options.file} is a directory`);
      throw new ConfigError(`cannot read config file ${options.file}: ${(error as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`config file ${options.file} is not valid JSON: ${(error as Error).message}`);
    }
    if (!fromFile || typeof fromFile !== 'object' || Array.isArray(fromFile)) throw new ConfigError(`config file ${options.file} must hold one JSON object ({ … })`);
  }
  const env: EnvSources = new Map();
  const merged = deepMerge(deepMerge(fromFile, envOverrides(options.env ?? {}, env)), options.overrides ?? {});
  const config = parseConfig(merged, { file: options.file, env });
  // Relative paths in a config file are relative to the file, not to the cwd.
  if (options.file && !path.isAbsolute(config.dataDir) && 'dataDir' in fromFile) {
    config.dataDir = path.resolve(path.dirname(options.file), config.dataDir);
  }
  config.dataDir = path.resolve(config.dataDir);
  return config;
}

export function storeUrl(config: Config): string {
  return config.store.url ?? `sqlite:${path.join(config.dataDir, 'sealgate.db')}`;
}

export function masterKeyPath(config: Config): string {
  return config.vault.masterKeyFile ?? path.join(config.dataDir, 'master.key');
}
