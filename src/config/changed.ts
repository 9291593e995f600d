import type { Config } from './schema.ts';

export interface ChangedKey {
  /** Dotted, for display: `delivery.port`, `domains.clinic.test.smarthost`. */
  key: string;
  path: string[];
  value: unknown;
}

/**
 * The keys whose value differs from the built-in default (like `postconf -n`); `defaults` is
 * the config of an empty file.
 */
export function changedKeys(config: Config, defaults: Config): ChangedKey[] {
  const changed: ChangedKey[] = [];
  const walk = (value: unknown, base: unknown, path: string[]) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const baseObject = base && typeof base === 'object' && !Array.isArray(base) ? (base as Record<string, unknown>) : {};
      for (const [name, inner] of Object.entries(value)) walk(inner, baseObject[name], [...path, name]);
      return;
    }
    if (value !== undefined && JSON.stringify(value) !== JSON.stringify(base)) changed.push({ key: path.join('.'), path, value });
  };
  walk(config, defaults, []);
  return changed;
}

/** The changed keys as one nested object (what `config check --changed --json` prints). */
export function nestChanged(changed: ChangedKey[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { path, value } of changed) {
    let node = out;
    for (const name of path.slice(0, -1)) node = (node[name] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]] = value;
  }
  return out;
}
