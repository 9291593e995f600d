/**
 * bench/relay-profile: where the relay's CPU goes. Runs the relay bench's Sealgate half
 * (smtp-source → gateway → smtp-sink, same config as bench/relay.ts) with the gateway under
 * `--cpu-prof` (one .cpuprofile per thread: main = SMTP intake, worker = delivery) and a preload
 * that counts SQLite statements, stops it with SIGTERM so the profiles are written, then prints
 * the self time by stage (bench/profile-stages.ts) and statements per message.
 *
 *   node bench/relay-profile.ts [--messages 3000] [--sessions 20] [--size 10240] [--out /tmp/relay-prof] [--cpu] [--delivery-in-main] [--workers N]
 *
 * `--cpu`: no profiler (it inflates native calls several times): the gateway's CPU time per
 * message by thread, from /proc (utime + stime), which a loaded machine moves far less than
 * the rate. With `--workers N` above 1 the listener workers' threads are counted too, under
 * `worker` (the primary's under `primary`).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startGateway } from '../test/helpers/gateway.ts';
import { tempDir } from '../test/helpers/ports.ts';
import { arg } from './lib.ts';
import { measure, sinkDestination } from './peers.ts';
import { printSql, printStages, stagesOf, type SqlCounts } from './profile-stages.ts';

const messages = arg('messages', 3000);
const sessions = arg('sessions', 20);
const size = arg('size', 10_240);
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? process.argv[outIndex + 1]! : '/tmp/relay-prof';
const cpuOnly = process.argv.includes('--cpu');
// `delivery.thread` as `serve` would pick it (`auto`), unless delivery is asked into the main thread.
const deliveryThread = process.argv.includes('--delivery-in-main') ? false : 'auto';
const workers = arg('workers', 1);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const temp = tempDir('bench-relay-profile');

// The gateway is a child of startGateway: the flags reach it (and its delivery thread) by env.
const preload = path.join(import.meta.dirname, 'sqlite-count-preload.ts');
if (!cpuOnly) process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${out} --import=${preload}`.trim();
process.env.RELAY_PROFILE_SQL_DIR = out;

try {
  const destination = await sinkDestination('127.0.0.60');
  const gateway = await startGateway(path.join(temp.dir, 'gw'), {
    domains: { 'sink.test': { smarthost: destination.address } },
    delivery: { concurrency: sessions, perDomainConcurrency: sessions, thread: deliveryThread },
    limits: { maxConnectionsPerIp: 1000, maxCommandsPerMinute: 1_000_000 },
    log: { level: 'warn' },
    serve: { workers },
  });
  delete process.env.NODE_OPTIONS;
  let rate = 0;
  const pid = gateway.child.pid!;
  const before = threadTimes(pid);
  let after = before;
  try {
    rate = await measure('sealgate profile', [`127.0.0.1:${gateway.ports.inbound}`], destination, { messages, sessions, size });
    after = threadTimes(pid);
  } finally {
    await gateway.kill('SIGTERM');
    await destination.stop();
  }
  console.log(`relay-profile: ${messages} messages of ${size} bytes over ${sessions} sessions, ${rate.toFixed(1)} msg/s (wall clock: shared machine, not a figure)`);
  if (cpuOnly) {
    printThreadTimes(before, after, messages);
    process.exit(0);
  }
  const profiles = readdirSync(out).filter((f) => f.endsWith('.cpuprofile'));
  printStages(stagesOf(profiles.map((f) => JSON.parse(readFileSync(path.join(out, f), 'utf8')))), messages);
  for (const f of readdirSync(out).filter((f) => f.startsWith('sql-'))) {
    console.log(f);
    printSql(JSON.parse(readFileSync(path.join(out, f), 'utf8')) as SqlCounts, messages);
  }
} finally {
  temp.cleanup();
}

/** CPU ticks (utime + stime) of each thread of `pid` and of its listener workers, by thread name. */
function threadTimes(pid: number): Map<string, number> {
  const times = new Map<string, number>();
  processTimes(pid, workers > 1 ? 'primary ' : '', times);
  if (workers > 1) {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const child of children) processTimes(Number(child), 'worker ', times);
  }
  return times;
}

function processTimes(pid: number, prefix: string, times: Map<string, number>): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      const key = `${prefix}${name} ${tid === String(pid) ? '(main)' : ''}`.trim();
      times.set(key, (times.get(key) ?? 0) + ticks);
    } catch {
      // the thread ended
    }
  }
}

function printThreadTimes(before: Map<string, number>, after: Map<string, number>, count: number): void {
  const tickUs = 1e6 / 100; // USER_HZ
  let total = 0;
  const rows = [...after].map(([name, ticks]) => [name, ((ticks - (before.get(name) ?? 0)) * tickUs) / count] as const).sort((a, b) => b[1] - a[1]);
  console.log('| thread | CPU µs/message |\n|---|---|');
  for (const [name, us] of rows) {
    total += us;
    if (us >= 1) console.log(`| ${name} | ${us.toFixed(0)} |`);
  }
  console.log(`| **total** | **${total.toFixed(0)}** |`);
}
