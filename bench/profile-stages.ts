/**
 * Self time of V8 .cpuprofile files by relay stage. Each sample goes to the stage of the
 * nearest frame from the leaf up that a rule names (so a native call such as AES-GCM or a
 * SQLite step counts for the module that made it); what no rule names is "other: <where>".
 *
 *   node bench/profile-stages.ts MESSAGES file.cpuprofile... [sql-*.json...]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

// First match wins; the order puts files before the folders that hold them.
const RULES: [RegExp, string][] = [
  [/src\/smtp\/server\/ingress-stream/, 'ingress stream'],
  [/src\/smtp\/server\/|node_modules\/smtp-server\//, 'SMTP parsing (server)'],
  [/src\/vault\//, 'encryption (vault)'],
  [/src\/queue\/leases/, 'lease'],
  [/src\/queue\/(settle|receipts)/, 'settle'],
  [/src\/queue\/(enqueue|group-commit|bodies|queue)/, 'enqueue (queue)'],
  [/src\/store\/|node_modules\/(better-sqlite3|kysely)\//, 'store writes'],
  [/src\/smtp\/client\/|src\/delivery\/|src\/delivery-/, 'outbound client'],
  [/src\/audit\//, 'audit'],
  [/src\/auth\/|node_modules\/mailauth\//, 'mail authentication'],
  [/src\/mail\//, 'mail headers (mail/)'],
  [/node_modules\/(pino|sonic-boom|thread-stream)/, 'logging'],
  [/node_modules\/prom-client/, 'metrics'],
];
const SPECIAL: Record<string, string> = { '(garbage collector)': 'GC', '(idle)': 'idle', '(program)': 'V8/native (program)' };

function stageOfFrame(frame: ProfileNode['callFrame']): string | undefined {
  if (Object.hasOwn(SPECIAL, frame.functionName)) return SPECIAL[frame.functionName];
  for (const [pattern, stage] of RULES) if (pattern.test(frame.url)) return stage;
  return undefined;
}

function otherOf(frame: ProfileNode['callFrame']): string {
  const m = /(node_modules\/(?:@[^/]+\/)?[^/]+|src\/[^/]+)/.exec(frame.url);
  if (m) return `other: ${m[1]}`;
  // Native calls with no frame of ours above them: socket reads and writes, fs callbacks.
  return 'event loop, sockets, fs callbacks (node internals)';
}

/** Microseconds of self time per stage over all the profiles. */
export function stagesOf(profiles: CpuProfile[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const stageOfNode = new Map<number, string>();
    const resolve = (id: number): string => {
      const cached = stageOfNode.get(id);
      if (cached) return cached;
      let stage: string | undefined;
      for (let at: number | undefined = id; at !== undefined && !stage; at = parent.get(at)) stage = stageOfFrame(byId.get(at)!.callFrame);
      stage ??= otherOf(byId.get(id)!.callFrame);
      stageOfNode.set(id, stage);
      return stage;
    };
    profile.samples.forEach((id, i) => {
      const stage = resolve(id);
      totals.set(stage, (totals.get(stage) ?? 0) + (profile.timeDeltas[i] ?? 0));
    });
  }
  return totals;
}

const NAMED = new Set([...RULES.map(([, stage]) => stage), ...Object.values(SPECIAL), 'event loop, sockets, fs callbacks (node internals)']);

export function printStages(totals: Map<string, number>, messages: number): void {
  const busy = [...totals].filter(([s]) => s !== 'idle').reduce((a, [, t]) => a + t, 0);
  // The stages the rules name always get a row; the unnamed rest (start-up, libraries) one together.
  const rows = new Map<string, number>();
  for (const [stage, t] of totals) {
    if (stage === 'idle') continue;
    const row = NAMED.has(stage) ? stage : 'other (start-up, other modules)';
    rows.set(row, (rows.get(row) ?? 0) + t);
  }
  console.log(`CPU (all threads, not idle): ${(busy / 1000).toFixed(0)} ms, ${(busy / messages).toFixed(0)} µs/message`);
  console.log('| Stage | share of CPU | µs/message |');
  console.log('|---|---|---|');
  for (const [stage, t] of [...rows].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${stage} | ${((100 * t) / busy).toFixed(1)} % | ${(t / messages).toFixed(0)} |`);
  }
  console.log(`| **total** | 100 % | ${(busy / messages).toFixed(0)} |`);
  const others = [...totals].filter(([s]) => !NAMED.has(s)).sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (others.length) console.log(`(largest in "other": ${others.map(([s, t]) => `${s.replace(/^other: /, '')} ${(t / messages).toFixed(0)} µs`).join(', ')})`);
  console.log(`(idle: ${((totals.get('idle') ?? 0) / 1000).toFixed(0)} ms)`);
}

// What the time inside SQLite is spent on: the writes that end in an fsync on the event loop
// (better-sqlite3 is synchronous) apart from the statements that only touch pages in memory.
const SQL_GROUPS: [RegExp, string][] = [
  [/^(commit|exec: COMMIT)$/i, 'COMMIT of a transaction: fsync'],
  [/insert into "?audit_(events|checkpoints)"?/, 'audit append (its own transaction and fsync unless in the shared one)'],
  [/^ ?update recipients set state = 'leased'/, 'lease (its own transaction and fsync unless in the shared one)'],
  [/wal_checkpoint/, 'WAL checkpoint after deletions (Store.scrub)'],
  [/^select "?seq"?, "?hash"? from "?audit_events"?/, 'audit head read'],
];

/** What bench/sqlite-count-preload.ts wrote for one thread. */
export interface SqlCounts {
  prepares: number;
  runs: number;
  byStatement: Record<string, number>;
  usByStatement: Record<string, number>;
}

export function printSql(counts: SqlCounts, messages: number): void {
  const us = Object.values(counts.usByStatement).reduce((a, b) => a + b, 0);
  console.log(`${(counts.runs / messages).toFixed(2)} statements/message, ${(counts.prepares / messages).toFixed(2)} prepares/message, ${(us / messages).toFixed(0)} µs/message inside SQLite`);
  const groups = new Map<string, { n: number; us: number }>();
  for (const [sql, n] of Object.entries(counts.byStatement)) {
    const group = SQL_GROUPS.find(([pattern]) => pattern.test(sql))?.[1] ?? 'other statements (reads; writes inside a transaction)';
    const g = groups.get(group) ?? { n: 0, us: 0 };
    g.n += n;
    g.us += counts.usByStatement[sql] ?? 0;
    groups.set(group, g);
  }
  console.log('| Inside SQLite | per message | µs/message |');
  console.log('|---|---|---|');
  for (const [group, g] of [...groups].sort((a, b) => b[1].us - a[1].us)) console.log(`| ${group} | ${(g.n / messages).toFixed(2)} | ${(g.us / messages).toFixed(0)} |`);
  console.log('  per message: count, µs, statement');
  const top = Object.entries(counts.byStatement).sort((a, b) => (counts.usByStatement[b[0]] ?? 0) - (counts.usByStatement[a[0]] ?? 0)).slice(0, 30);
  for (const [sql, n] of top) console.log(`  ${(n / messages).toFixed(2).padStart(6)} ${((counts.usByStatement[sql] ?? 0) / messages).toFixed(0).padStart(6)}  ${sql.slice(0, 140)}`);
}

if (import.meta.main) {
  const [messages, ...files] = process.argv.slice(2);
  printStages(stagesOf(files.filter((f) => f.endsWith('.cpuprofile')).map((f) => JSON.parse(readFileSync(f, 'utf8')) as CpuProfile)), Number(messages));
  for (const f of files.filter((f) => f.endsWith('.json'))) printSql(JSON.parse(readFileSync(f, 'utf8')) as SqlCounts, Number(messages));
}
