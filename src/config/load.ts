import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configSchema, type Config } from './schema.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

// SEALGATE_* variables that are not config keys: secrets, CLI input, test and fault hooks.
const NOT_CONFIG = /^SEALGATE_(MASTER_KEY|CONFIG|PASSWORD|CRASH_[A-Z_]+|TEST_[A-Z_]+|SKIP_[A-Z_]+)$/;

/**
 * Environment overrides: SEALGATE_<PATH> with `__` between levels, e.g.
 * SEALGATE_DELIVERY__PORT=2526, SEALGATE_STORE__URL=postgres://…; values are parsed as JSON
 * when they look like JSON (numbers, booleans, arrays), else taken as strings.
 */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
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

/** Validates and names the bad key and the reason: `delivery.port: must be ≤ 65535`. */
export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const where = issue.path.length ? issue.path.join('.') : '(top level)';
      const keys = 'keys' in issue && Array.isArray(issue.keys) ? ` ${issue.keys.join(', ')}` : '';
      return `  ${where}:${keys} ${issue.message}`;
    });
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
      throw new ConfigError(`cannot read config file ${options.file}: ${(error as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`config file ${options.file} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const merged = deepMerge(deepMerge(fromFile, envOverrides(options.env ?? {})), options.overrides ?? {});
  const config = parseConfig(merged);
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
