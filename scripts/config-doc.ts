// Writes docs/config.md from the zod schema, so the reference cannot drift from the code.
// `node scripts/config-doc.ts` rewrites it; test/architecture/config-doc.test.ts checks it.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configSchema } from '../src/config/index.ts';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  default?: unknown;
  enum?: unknown[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' \\| ');
  if (s.type === 'array' && s.items) return `array of ${typeOf(s.items)}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return `map of ${typeOf(s.additionalProperties)}`;
  return String(s.type ?? 'value');
}

function rows(schema: JsonSchema, prefix: string, out: string[]): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (child.type === 'object' && child.properties) {
      rows(child, name, out);
      continue;
    }
    const entry = child.additionalProperties;
    if (child.type === 'object' && entry && typeof entry === 'object' && entry.properties) {
      // A map of objects (domains): one row for the map, then one per key of an entry.
      out.push(`| \`${name}\` | map of object | ${child.default === undefined ? '—' : `\`${JSON.stringify(child.default)}\``} |`);
      rows(entry, `${name}.<name>`, out);
      continue;
    }
    const range = [child.minimum !== undefined ? `≥ ${child.minimum}` : '', child.maximum !== undefined ? `≤ ${child.maximum}` : '', child.pattern ? `pattern \`${child.pattern}\`` : ''].filter(Boolean).join(', ');
    const dflt = child.default === undefined ? '—' : `\`${JSON.stringify(child.default)}\``;
    out.push(`| \`${name}\` | ${typeOf(child)}${range ? ` (${range})` : ''} | ${dflt} |`);
  }
}

export function renderConfigDoc(): string {
  const json = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out = [
    '# Configuration reference',
    '',
    'Generated from `src/config/schema.ts` by `node scripts/config-doc.ts`; do not edit by hand.',
    'Sources, later wins: the JSON file (`--config`), environment variables `SEALGATE_<SECTION>__<KEY>`',
    '(camelCase keys written in SNAKE_CASE, e.g. `SEALGATE_DELIVERY__DEFAULT_TLS_POLICY=verified`), flags.',
    'The master key may also come from `SEALGATE_MASTER_KEY` (base64 of 32 bytes). Times are milliseconds.',
    '',
    '| key | type | default |',
    '| --- | --- | --- |',
  ];
  rows(json, '', out);
  return `${out.join('\n')}\n`;
}

if (import.meta.main) {
  const file = path.resolve(import.meta.dirname, '../docs/config.md');
  writeFileSync(file, renderConfigDoc());
  console.log(`wrote ${file}`);
}
