/**
 * Starts `sealgate serve` (test config, loopback) under scripts/module-census.ts, waits until
 * it is idle, and prints per process: role, modules loaded, heap after GC, Rss and Pss, and
 * the packages it loaded. `--mail` first relays one message (what first use adds).
 *
 *   node scripts/census-serve.ts [--workers N|auto] [--mail] [--json] [--why pkg,pkg]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startGateway } from '../test/helpers/gateway.ts';
import { tempDir } from '../test/helpers/ports.ts';
import { runSwaks } from '../test/helpers/swaks.ts';

const index = process.argv.indexOf('--workers');
const given = index >= 0 ? process.argv[index + 1]! : 'auto';
const workers = given === 'auto' ? 'auto' : Number(given);
const temp = tempDir('census');
process.env.MODULE_CENSUS_DIR = temp.dir;
const whyIndex = process.argv.indexOf('--why');
if (whyIndex >= 0) process.env.MODULE_CENSUS_WHY = process.argv[whyIndex + 1];
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${path.resolve(import.meta.dirname, 'module-census.ts')} --expose-gc`.trim();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
try {
  const gateway = await startGateway(path.join(temp.dir, 'gw'), { serve: { workers }, log: { level: 'warn' }, domains: { 'sink.test': { smarthost: '127.0.0.1:9' } } });
  try {
    // The first start made the self-signed certificate: measure a restart, as bench/relay does.
    await gateway.restart();
    if (process.argv.includes('--mail')) await runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', 'a@source.test', '--to', 'b@sink.test']);
    await sleep(3_000);
    const primary = gateway.child.pid!;
    const children = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    for (const pid of [primary, ...children]) process.kill(pid, 'SIGUSR2');
    await sleep(2_000);
  } finally {
    await gateway.kill();
  }
  const reports = readdirSync(temp.dir)
    .filter((name) => name.startsWith('census-'))
    .map((name) => JSON.parse(readFileSync(path.join(temp.dir, name), 'utf8')) as { role: string; modules: number; heapUsedAfterGcMb: number; rssMb: number; pssMb: number; byPackage: Record<string, number> })
    .sort((a, b) => (a.role === 'primary' ? -1 : b.role === 'primary' ? 1 : 0));
  if (process.argv.includes('--json')) console.log(JSON.stringify(reports, null, 2));
  else {
    for (const report of reports) {
      console.log(`${report.role}: ${report.modules} modules, heap after GC ${report.heapUsedAfterGcMb} MB, Rss ${report.rssMb} MB, Pss ${report.pssMb} MB`);
      for (const [name, chain] of Object.entries((report as { why?: Record<string, string[]> }).why ?? {})) console.log(`  why ${name}: ${chain.join(' → ')}`);
      console.log(`  ${Object.entries(report.byPackage).map(([name, count]) => `${name} ${count}`).join(', ')}`);
    }
    const sum = (key: 'rssMb' | 'pssMb') => reports.reduce((total, report) => total + report[key], 0).toFixed(1);
    console.log(`total: Rss ${sum('rssMb')} MB, Pss ${sum('pssMb')} MB over ${reports.length} processes`);
  }
} finally {
  temp.cleanup();
}
