/**
 * Zod's issues in words for the admin who edits the file: which key, what it must be, and
 * where the bad value came from (an environment variable is named with its value, since
 * nothing in the file shows it).
 */
import type { z } from 'zod';
import { configSchema } from './schema.ts';

/** Where the input of a config came from, to name it in an error. */
export interface ConfigOrigins {
  file?: string;
  /** Dotted key path → `NAME=value` of the environment variable that set it. */
  env?: Map<string, string>;
}

type Issue = z.core.$ZodIssue;

function valueAt(input: unknown, keys: PropertyKey[]): unknown {
  let node = input;
  for (const key of keys) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Levenshtein distance, for "did you mean" on a mistyped key (short strings only). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length];
}

function reason(issue: Issue, value: unknown, known: string[]): string {
  switch (issue.code) {
    case 'invalid_type': {
      if (value === undefined) return `is required (${article(issue.expected)})`;
      const got = Array.isArray(value) ? 'a list' : value === null ? 'null' : typeof value === 'string' ? `the text ${JSON.stringify(value)}` : `${typeof value} ${JSON.stringify(value)}`;
      const expected = issue.expected === 'object' ? 'an object ({ … })' : issue.expected === 'array' ? 'a list ([ … ])' : article(issue.expected);
      return `must be ${expected}, not ${got}`;
    }
    case 'too_big':
      return issue.origin === 'string' ? `must be at most ${issue.maximum} characters` : issue.origin === 'array' ? `must have at most ${issue.maximum} entries` : `must be at most ${issue.maximum}`;
    case 'too_small':
      if (issue.origin === 'string') return Number(issue.minimum) <= 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters`;
      if (issue.origin === 'array') return `must have at least ${issue.minimum} entries`;
      return `must be at least ${issue.minimum}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${value === undefined ? '' : `, not ${JSON.stringify(value)}`}`;
    case 'unrecognized_keys':
      return issue.keys
        .map((key) => {
          const near = known.filter((k) => distance(k, key) <= 2).sort((a, b) => distance(a, key) - distance(b, key))[0];
          return `unknown key ${JSON.stringify(key)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`;
        })
        .join('; ');
    case 'invalid_format':
      if (issue.format === 'url') {
        return typeof value === 'string' && /^http:/i.test(value) ? `must be https: ${value} (recipients' browsers would send their codes in the clear)` : `must be an https:// URL, not ${JSON.stringify(value)}`;
      }
      if (issue.format === 'regex') return `${issue.message === 'Invalid string: must match pattern' ? 'has the wrong form' : issue.message}: ${JSON.stringify(value)}`;
      return `${issue.message}: ${JSON.stringify(value)}`;
    case 'invalid_union':
      return `is not valid here: ${JSON.stringify(value)}`;
    default:
      return issue.message;
  }
}

/** `SEALGATE_DELIVERY__PORT=abc: delivery.port must be a number, not the text "abc"` */
export function describeIssue(issue: Issue, input: unknown, origins: ConfigOrigins): string {
  const keys = issue.path;
  const where = keys.length ? keys.map(String).join('.') : '(top level)';
  const value = valueAt(input, keys);
  const known = issue.code === 'unrecognized_keys' ? knownKeysAt(keys) : [];
  const text = reason(issue, value, known);
  // The longest dotted prefix an environment variable set is where this value came from.
  for (let n = keys.length; n > 0; n--) {
    const variable = origins.env?.get(keys.slice(0, n).map(String).join('.'));
    if (variable) return `${variable}: ${where} ${text}`;
  }
  return `${where}: ${text}${origins.file ? ` (in ${origins.file})` : ''}`;
}

/** The keys the schema knows at a path (for "did you mean"). */
function knownKeysAt(keys: PropertyKey[]): string[] {
  type Def = { type: string; innerType?: { _zod: { def: Def } }; in?: { _zod: { def: Def } }; shape?: Record<string, { _zod: { def: Def } }>; valueType?: { _zod: { def: Def } } };
  let def = (configSchema as unknown as { _zod: { def: Def } })._zod.def;
  const unwrap = () => {
    while (true) {
      if (def.innerType) def = def.innerType._zod.def;
      else if (def.type === 'pipe' && def.in) def = def.in._zod.def;
      else return;
    }
  };
  unwrap();
  for (const key of keys) {
    if (def.type === 'object' && def.shape?.[String(key)]) def = def.shape[String(key)]._zod.def;
    else if (def.type === 'record' && def.valueType) def = def.valueType._zod.def;
    else return [];
    unwrap();
  }
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}
