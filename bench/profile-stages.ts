/**
 * Self time of V8 .cpuprofile files by relay stage. Each sample goes to the stage of the
 * nearest frame from the leaf up that a rule names (so a native call such as AES-GCM or a
 * SQLite step counts for the module that made it); what no rule names is "other: <where>".
 *
 *   node bench/profile-stages.ts MESSAGES file.cpuprofile...
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
  if (SPECIAL[frame.functionName]) return SPECIAL[frame.functionName];
  for (const [pattern, stage] of RULES) if (pattern.test(frame.url)) return stage;
  return undefined;
}

function otherOf(frame: ProfileNode['callFrame']): string {
  const m = /(node_modules\/(?:@[^/]+\/)?[^/]+|src\/[^/]+)/.exec(frame.url);
  if (m) return `other: ${m[1]}`;
  if (frame.url.startsWith('node:')) return 'other: node internals (no src caller)';
  return `other: ${frame.url || frame.functionName || '?'}`;
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

export function printStages(totals: Map<string, number>, messages: number): void {
  const busy = [...totals].filter(([s]) => s !== 'idle').reduce((a, [, t]) => a + t, 0);
  console.log(`CPU (all threads, not idle): ${(busy / 1000).toFixed(0)} ms, ${(busy / messages).toFixed(0)} µs/message`);
  console.log('| Stage | share of CPU | µs/message |');
  console.log('|---|---|---|');
  for (const [stage, t] of [...totals].filter(([s]) => s !== 'idle').sort((a, b) => b[1] - a[1])) {
    console.log(`| ${stage} | ${((100 * t) / busy).toFixed(1)} % | ${(t / messages).toFixed(0)} |`);
  }
  console.log(`(idle: ${((totals.get('idle') ?? 0) / 1000).toFixed(0)} ms)`);
}

if (import.meta.main) {
  const [messages, ...files] = process.argv.slice(2);
  printStages(stagesOf(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as CpuProfile)), Number(messages));
}
