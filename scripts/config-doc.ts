// Writes docs/config.md from the zod schema, so the reference cannot drift from the code.
// `node scripts/config-doc.ts` rewrites it; test/architecture/config-doc.test.ts checks it.
// Every key's text is its `.describe('…')` in src/config/schema.ts.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configSchema } from '../src/config/index.ts';

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  propertyNames?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

/** A map (zod record) has its value schema in additionalProperties. */
function mapValue(s: JsonSchema): JsonSchema | undefined {
  return s.type === 'object' && !s.properties && s.additionalProperties && typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
}

function isObject(s: JsonSchema): boolean {
  return s.type === 'object' && s.properties !== undefined;
}

/** `<domain>` for a record whose key schema has `.meta({ title: 'domain' })`. */
function placeholder(map: JsonSchema): string {
  return `<${map.propertyNames?.title ?? 'name'}>`;
}

export function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' \\| ');
  if (s.type === 'array' && s.items) return `array of ${typeOf(s.items)}`;
  const value = mapValue(s);
  if (value) return `map of ${placeholder(s).slice(1, -1)} → ${isObject(value) ? 'object' : typeOf(value)}`;
  return String(s.type ?? 'value');
}

function range(s: JsonSchema): string {
  const parts = [
    s.minimum !== undefined ? `≥ ${s.minimum}` : '',
    // Zod's int() bound: no limit a reader needs to know.
    s.maximum !== undefined && s.maximum !== Number.MAX_SAFE_INTEGER ? `≤ ${s.maximum}` : '',
    s.pattern ? `pattern \`${s.pattern}\`` : '',
  ].filter(Boolean);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** Table cells hold one line, and `|` would end the cell. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

function row(name: string, s: JsonSchema, required: boolean): string {
  const dflt = s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : required ? 'required' : '—';
  return `| \`${name}\` | ${typeOf(s)}${range(s)} | ${dflt} | ${cell(s.description ?? '')} |`;
}

/** One row per key under `s`, nested objects and map values included, in schema order. */
export function keyRows(s: JsonSchema, prefix: string, out: string[]): void {
  for (const [key, child] of Object.entries(s.properties ?? {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    const required = s.required?.includes(key) ?? false;
    if (isObject(child)) {
      if (child.description) out.push(row(name, child, required));
      keyRows(child, name, out);
      continue;
    }
    out.push(row(name, child, required));
    const value = mapValue(child);
    if (!value) continue;
    const entry = `${name}.${placeholder(child)}`;
    out.push(row(entry, value, false));
    if (isObject(value)) keyRows(value, entry, out);
  }
}

const tableHead = ['| key | type | default | description |', '| --- | --- | --- | --- |'];

/** The top-level scalars under "General", then one section per top-level object. */
export function sections(root: JsonSchema): string[] {
  const out: string[] = [];
  const entries = Object.entries(root.properties ?? {});
  const scalars = entries.filter(([, s]) => !isObject(s) && !mapValue(s));
  if (scalars.length) {
    out.push('## General', '', ...tableHead);
    keyRows({ ...root, properties: Object.fromEntries(scalars) }, '', out);
    out.push('');
  }
  for (const [key, s] of entries) {
    if (!isObject(s) && !mapValue(s)) continue;
    out.push(`## \`${key}\``, '');
    if (s.description) out.push(s.description, '');
    out.push(...tableHead);
    if (isObject(s)) keyRows(s, key, out);
    else keyRows({ properties: { [key]: s }, required: root.required }, '', out);
    out.push('');
  }
  return out;
}

export function renderConfigDoc(): string {
  const json = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out = [
    '# Configuration reference',
    '',
    'Generated from `src/config/schema.ts` by `node scripts/config-doc.ts`; do not edit by hand.',
    'The file: `--config FILE`, else `SEALGATE_CONFIG`, else `/etc/sealgate/sealgate.json`, else `./sealgate.json`,',
    'else none (built-in defaults); every command says on stderr which file and data dir it used.',
    'Sources, later wins: that JSON file, environment variables `SEALGATE_<SECTION>__<KEY>`',
    '(camelCase keys written in SNAKE_CASE, e.g. `SEALGATE_DELIVERY__DEFAULT_TLS_POLICY=verified`), flags.',
    'The master key may also come from `SEALGATE_MASTER_KEY` (base64 of 32 bytes). Times are milliseconds.',
    '`<domain>` stands for a domain name, written in Unicode or as A-label (both spellings match).',
    '',
    ...sections(json),
  ];
  return `${out.join('\n').trimEnd()}\n`;
}

if (import.meta.main) {
  const file = path.resolve(import.meta.dirname, '../docs/config.md');
  writeFileSync(file, renderConfigDoc());
  console.log(`wrote ${file}`);
}
