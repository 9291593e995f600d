/**
 * Which modules a process loaded, counted by package, and its heap after a full GC: what
 * each process of `sealgate serve` holds in memory, to see what a role loads it does not need.
 *
 *   NODE_OPTIONS="--import ./scripts/module-census.ts --expose-gc" node src/sealgate.ts serve …
 *   kill -USR2 <pid>   # each process that got the signal writes census-<pid>.json
 *
 * The file goes to $MODULE_CENSUS_DIR (default: the working directory). NODE_OPTIONS reaches
 * the listener workers and the delivery thread too. `node scripts/census-serve.ts` runs it all.
 */
import cluster from 'node:cluster';
import { readFileSync, writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import path from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

const loaded: string[] = [];
/** The module that first imported each URL: `MODULE_CENSUS_WHY=pkg` prints the chain to it. */
const importedBy = new Map<string, string>();

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (context.parentURL && !importedBy.has(resolved.url)) importedBy.set(resolved.url, context.parentURL);
    return resolved;
  },
  load(url, context, nextLoad) {
    loaded.push(url);
    return nextLoad(url, context);
  },
});

/** `mailauth`, `@peculiar/x509`, `src/web`, `node:` — what a URL belongs to. */
export function packageOf(url: string): string {
  if (url.startsWith('node:')) return 'node:';
  const inModules = url.lastIndexOf('/node_modules/');
  if (inModules >= 0) {
    const [first, second] = url.slice(inModules + '/node_modules/'.length).split('/');
    return first!.startsWith('@') ? `${first}/${second}` : first!;
  }
  const inSrc = url.indexOf('/src/');
  if (inSrc >= 0) {
    const rest = url.slice(inSrc + 1).split('/');
    return rest.length > 2 ? `${rest[0]}/${rest[1]}` : 'src';
  }
  return url.includes('/test/') ? 'test' : 'other';
}

/** For each package named (comma-separated): the import chain that first loaded it, from the entry. */
function why(names: string | undefined): Record<string, string[]> | undefined {
  if (!names) return undefined;
  const chains: Record<string, string[]> = {};
  for (const name of names.split(',')) {
    const first = loaded.find((url) => packageOf(url) === name);
    if (!first) continue;
    const chain = [first];
    for (let parent = importedBy.get(first); parent && chain.length < 40; parent = importedBy.get(parent)) chain.unshift(parent);
    chains[name] = chain.map((url) => url.replace(/^file:\/\/.*?\/(src|node_modules|scripts|test)\//, '$1/'));
  }
  return chains;
}

function census(): Record<string, unknown> {
  const byPackage: Record<string, number> = {};
  for (const url of loaded) byPackage[packageOf(url)] = (byPackage[packageOf(url)] ?? 0) + 1;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap = getHeapStatistics();
  const rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 'NaN');
  return {
    pid: process.pid,
    role: cluster.isPrimary ? (isMainThread ? 'primary' : 'thread') : 'worker',
    argv: process.argv.slice(1),
    modules: loaded.length,
    heapUsedAfterGcMb: gc ? +(heap.used_heap_size / 2 ** 20).toFixed(1) : null,
    heapTotalMb: +(heap.total_heap_size / 2 ** 20).toFixed(1),
    rssMb: +(kb('Rss') / 1024).toFixed(1),
    pssMb: +(kb('Pss') / 1024).toFixed(1),
    why: why(process.env.MODULE_CENSUS_WHY),
    byPackage: Object.fromEntries(Object.entries(byPackage).sort((a, b) => b[1] - a[1])),
  };
}

if (isMainThread) {
  process.on('SIGUSR2', () => {
    const dir = process.env.MODULE_CENSUS_DIR ?? process.cwd();
    writeFileSync(path.join(dir, `census-${process.pid}.json`), `${JSON.stringify(census(), null, 2)}\n`);
  });
}
