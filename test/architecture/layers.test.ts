import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Keeps docs/architecture.md §3 true: a module imports only its own files, lower layers, and other
 * modules only through their index.ts. main.ts and runtime.ts are the composition root.
 */
const LAYERS: Record<string, number> = {
  kernel: 0,
  config: 1, dns: 1, mail: 1, vault: 1, audit: 1, store: 1, metrics: 1,
  auth: 2, linksec: 2, e2e: 2, policy: 2, accounts: 2, queue: 2,
  smtp: 3, delivery: 3, pickup: 3,
  web: 4, cli: 4,
};
// Same-layer imports the message flow needs (docs/architecture.md §3): delivery drives the outbound SMTP client.
// config keys domains by mail's pure canonicalDomain (one spelling rule for config and routing).
// The audit chain is kept in the store.
const ALLOWED_SAME_LAYER = new Set(['delivery->smtp', 'config->mail', 'audit->store']);
const PURE = new Set(['policy', 'mail', 'kernel']);
const IO_MODULES = /^(node:)?(fs|net|tls|dns|http|https|child_process|dgram)(\/promises)?$/;

const src = path.resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]);
}

describe('module map (docs/architecture.md §3)', () => {
  const files = sourceFiles(src);

  it('finds the modules', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it('imports follow the layers and go through index.ts', () => {
    const violations: string[] = [];
    for (const file of files) {
      const rel = path.relative(src, file);
      const [module] = rel.split(path.sep);
      const composition = !rel.includes(path.sep); // main.ts, runtime.ts
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) {
          if (PURE.has(module) && IO_MODULES.test(spec)) violations.push(`${rel}: pure module ${module} imports ${spec}`);
          continue;
        }
        const target = path.relative(src, path.resolve(path.dirname(file), spec));
        const [targetModule, ...rest] = target.split(path.sep);
        if (composition || targetModule === module) continue;
        if (!(targetModule in LAYERS)) {
          violations.push(`${rel}: imports ${spec} outside the module map`);
          continue;
        }
        const restPath = rest.join('/');
        const viaIndex = restPath === 'index.ts' || (targetModule === 'smtp' && /^(client|server)\/index\.ts$/.test(restPath));
        if (!viaIndex) violations.push(`${rel}: imports ${target} instead of ${targetModule}/index.ts`);
        if (targetModule === 'store' && /^(sqlite|postgres)/.test(restPath)) violations.push(`${rel}: only the composition root picks a store`);
        const from = LAYERS[module];
        const to = LAYERS[targetModule];
        if (to > from || (to === from && !ALLOWED_SAME_LAYER.has(`${module}->${targetModule}`))) {
          violations.push(`${rel}: layer ${from} module ${module} imports layer ${to} module ${targetModule}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
