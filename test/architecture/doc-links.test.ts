import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const docs = ['README.md', 'HACKING.md', 'bench/README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

it('the docs link only to files inside the repository, and those exist', () => {
  const broken: string[] = [];
  for (const doc of docs) {
    const text = readFileSync(path.join(root, doc), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?:|mailto:|#)/.test(target)) continue;
      const file = path.resolve(root, path.dirname(doc), target.split('#')[0]);
      if (!file.startsWith(`${root}${path.sep}`) || !existsSync(file)) broken.push(`${doc}: ${target}`);
    }
    // A path written in backticks counts too: `../shared/DESIGN.md` was one.
    for (const [, target] of text.matchAll(/`(\.\.\/[^`\s]+)`/g)) {
      if (!path.resolve(root, path.dirname(doc), target).startsWith(`${root}${path.sep}`)) broken.push(`${doc}: ${target}`);
    }
  }
  expect(broken).toEqual([]);
});
