// `npm run bench -- <name> [options]` runs bench/<name>.ts (relay, cluster, queue, crash, portal, e2e).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const [name, ...rest] = process.argv.slice(2);
const file = path.join(import.meta.dirname, `${name ?? ''}.ts`);
if (!name || !existsSync(file) || ['lib', 'run', 'peers', 'relay-dkim'].includes(name)) {
  console.error('usage: npm run bench -- <relay|cluster|queue|crash|portal|e2e> [options]   (see bench/README.md)');
  process.exit(64);
}
const result = spawnSync(process.execPath, [file, ...rest], { stdio: 'inherit' });
process.exit(result.status ?? 1);
