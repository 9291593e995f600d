import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchema } from '../../src/config/index.ts';
import { type JsonSchema, keyRows, renderConfigDoc, sections, typeOf } from '../../scripts/config-doc.ts';

it('docs/config.md matches the schema (run `node scripts/config-doc.ts`)', () => {
  const onDisk = readFileSync(path.resolve(import.meta.dirname, '../../docs/config.md'), 'utf8');
  expect(onDisk).toBe(renderConfigDoc());
});

it('every config key says what it is (`.describe(…)` in src/config/schema.ts)', () => {
  const rows = renderConfigDoc().split('\n').filter((line) => line.startsWith('| `'));
  const undescribed = rows.filter((line) => line.endsWith('|  |')).map((line) => line.split(' | ')[0]);
  expect(undescribed).toEqual([]);
  expect(rows.length).toBeGreaterThan(100);
});

const toJson = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;

describe('config-doc generator', () => {
  const sample = z.strictObject({
    name: z.string().default('x').describe('The name.'),
    section: z
      .strictObject({
        inner: z.strictObject({ deep: z.number().int().min(1).default(2).describe('A deep key.') }).prefault({}).describe('An inner object.'),
        piped: z.string().optional().describe('a | b\nsecond line'),
      })
      .prefault({})
      .describe('A section.'),
    hosts: z
      .record(z.string().meta({ title: 'domain' }), z.strictObject({ smarthost: z.string().describe('Where to.'), flag: z.boolean().default(false).describe('A flag.') }).describe('One host.'))
      .default({})
      .transform((v) => v)
      .describe('Hosts by domain.'),
    policies: z.record(z.string().meta({ title: 'domain' }), z.enum(['a', 'b']).describe('a or b.')).default({}).describe('Policies.'),
  });

  it('prints each key with type, default and description, nested objects and map entries included', () => {
    const out: string[] = [];
    keyRows(toJson(sample), '', out);
    expect(out).toEqual([
      '| `name` | string | `"x"` | The name. |',
      '| `section` | object | `{}` | A section. |',
      '| `section.inner` | object | `{}` | An inner object. |',
      '| `section.inner.deep` | integer (≥ 1) | `2` | A deep key. |',
      '| `section.piped` | string | — | a \\| b second line |',
      '| `hosts` | map of domain → object | `{}` | Hosts by domain. |',
      '| `hosts.<domain>` | object | — | One host. |',
      '| `hosts.<domain>.smarthost` | string | required | Where to. |',
      '| `hosts.<domain>.flag` | boolean | `false` | A flag. |',
      '| `policies` | map of domain → "a" \\| "b" | `{}` | Policies. |',
      '| `policies.<domain>` | "a" \\| "b" | — | a or b. |',
    ]);
  });

  it('groups top-level scalars under General and gives each section its description', () => {
    const text = sections(toJson(sample)).join('\n');
    expect(text).toMatch(/^## General\n\n\| key /);
    expect(text).toContain('## `section`\n\nA section.\n\n| key');
    expect(text).toContain('## `hosts`\n\nHosts by domain.\n\n| key');
  });

  it('names literal unions by their values and leaves out the integer bound', () => {
    expect(typeOf(toJson(z.array(z.union([z.literal(4), z.literal(6)]))))).toBe('array of 4 \\| 6');
    const out: string[] = [];
    keyRows(toJson(z.strictObject({ n: z.number().int().min(0).describe('n') })), '', out);
    expect(out).toEqual(['| `n` | integer (≥ 0) | required | n |']);
  });

  it('the real schema shows the fields inside domains and delivery.tlsPolicies', () => {
    const doc = renderConfigDoc();
    for (const key of ['smarthost', 'recipients', 'verifyRecipients', 'allowExternalSenders']) expect(doc).toContain(`| \`domains.<domain>.${key}\` |`);
    expect(doc).toContain('| `delivery.tlsPolicies.<domain>` | "opportunistic" \\| "required" \\| "verified" |');
    expect(configSchema.shape.hostname.description).toBeTruthy();
  });
});
