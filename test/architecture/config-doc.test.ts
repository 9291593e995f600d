import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { renderConfigDoc } from '../../scripts/config-doc.ts';

it('docs/config.md matches the schema (run `node scripts/config-doc.ts`)', () => {
  const onDisk = readFileSync(path.resolve(import.meta.dirname, '../../docs/config.md'), 'utf8');
  expect(onDisk).toBe(renderConfigDoc());
});
