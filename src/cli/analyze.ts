/**
 * `sealgate analyze <file|->`: was this message sent over TLS? The `Received` chain hop by hop
 * (oldest first), the verdict, what receivers recorded for SPF/DKIM/DMARC, and DKIM and ARC
 * checked again now. mailauth and the resolver load only when the command runs.
 */
import { readFileSync } from 'node:fs';
import type { MessageAnalysis } from '../auth/index.ts';
import type { Config } from '../config/index.ts';
import type { Command } from './command.ts';
import { CliError, EX } from './exit.ts';
import { out, outJson } from './output.ts';

/** A message file past this is not a mail anyone pastes for analysis. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

async function readInput(source: string): Promise<Buffer> {
  if (source !== '-') return readFileSync(source);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_MESSAGE_BYTES) throw new CliError(EX.data, `the message on stdin is larger than ${MAX_MESSAGE_BYTES / 1024 / 1024} MB`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const TRANSPORT_LABEL = { tls: 'TLS', plain: 'PLAIN', local: 'LOCAL', unknown: '?' } as const;

/** The human-readable report. */
export function formatAnalysis(analysis: MessageAnalysis): string {
  const { trace } = analysis;
  const lines: string[] = [];
  lines.push(trace.hops.length ? `Path, oldest hop first (${trace.hops.length} Received fields):` : 'The message has no Received fields.');
  for (const hop of trace.hops) {
    const delay = hop.delaySeconds === null ? '' : ` (+${hop.delaySeconds}s)`;
    const from = hop.from ? `${hop.from}${hop.fromIp ? ` [${hop.fromIp}]` : ''}` : '(no sending host)';
    lines.push(`  ${String(hop.index).padStart(2)}  ${TRANSPORT_LABEL[hop.transport].padEnd(5)}  ${from} -> ${hop.by ?? '?'}${hop.with ? ` with ${hop.with}` : ''}`);
    if (hop.tls) lines.push(`             ${[hop.tls.version ?? 'TLS version not recorded', hop.tls.cipher].filter(Boolean).join(' ')}`);
    lines.push(`             ${hop.time ?? 'no readable date'}${delay}; ${hop.reason}`);
  }
  lines.push('', `Verdict: ${trace.summary}`);
  lines.push('  (Received fields are written by each server on the way; those below the first server you trust may be forged.)');
  if (analysis.recorded.length) {
    lines.push('', 'Recorded by receivers (Authentication-Results, newest first):');
    for (const r of analysis.recorded) lines.push(`  ${r.authservId ?? '(no authserv-id)'}: ${r.results.map((x) => `${x.method}=${x.result}`).join(' ') || '(no results)'}`);
  }
  if (analysis.signatures) {
    const { dkim, arc } = analysis.signatures;
    lines.push('', 'Checked again now:');
    if (dkim.length === 0) lines.push('  DKIM: no signature');
    for (const d of dkim) lines.push(`  DKIM: ${d.result} d=${d.domain ?? '?'} s=${d.selector ?? '?'}${d.comment ? ` (${d.comment})` : ''}`);
    lines.push(`  ARC: ${arc.result}${arc.instance ? ` i=${arc.instance}` : ''}${arc.comment ? ` (${arc.comment})` : ''}`);
  } else if (analysis.recheckError) lines.push('', `DKIM/ARC could not be checked again: ${analysis.recheckError}`);
  return lines.join('\n');
}

async function analyze(config: Config, source: string, offline: boolean, json: boolean): Promise<number> {
  const message = await readInput(source);
  const [{ analyzeMessage, analysisJson }, { createSystemResolver }] = await Promise.all([import('../auth/index.ts'), import('../dns/index.ts')]);
  // The servers inbound verification uses (auth.dnsServers, else delivery.dnsServers).
  const servers = config.auth.dnsServers.length ? config.auth.dnsServers : config.delivery.dnsServers;
  const resolver = offline ? undefined : createSystemResolver({ servers: servers.length ? servers : undefined });
  let analysis: MessageAnalysis;
  try {
    analysis = await analyzeMessage(message, resolver);
  } catch (error) {
    // Past what is read (a mail loop's Received fields, a header block no server passes on): said, not ground through.
    if ((error as Error).name === 'TraceLimitError') throw new CliError(EX.data, `${source === '-' ? 'the message on stdin' : source}: ${(error as Error).message}`);
    throw error;
  }
  if (json) outJson(analysisJson(analysis));
  else out(formatAnalysis(analysis));
  return EX.ok;
}

export const analyzeCommands: Command[] = [
  {
    name: 'analyze',
    usage: '<file|->',
    summary: 'was a message sent over TLS? its Received path hop by hop, DKIM/ARC checked again',
    details: [
      'Reads a message (headers are enough; - reads stdin) and prints each Received hop, oldest first:',
      'from, by, with, TLS version and cipher where the stamp records them, time and delay.',
      'Verdict: TLS on every hop, on N of M hops, or not knowable (each hop says why). Hops on one',
      'host (loopback, local submission, list expansion, mapi, HTTP) are not network hops and do not count.',
      'Also lists the SPF/DKIM/DMARC results receivers recorded, and checks DKIM and ARC again over DNS.',
    ],
    options: { offline: { type: 'boolean', help: 'do not look up DKIM/ARC keys (no DNS)' } },
    json: true,
    args: { min: 1, max: 1 },
    run: (ctx) => analyze(ctx.config, ctx.args[0], ctx.options.offline === true, ctx.json),
  },
];
