import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Prints one figure in the form docs/architecture.md §8 fixes, so anyone can grep for it. */
export function figure(name: string, value: number, digits = 2): void {
  const text = Number.isFinite(value) ? value.toFixed(digits) : 'NaN';
  // Trailing zeros only after a decimal point: 20 stays 20, 1.50 becomes 1.5.
  console.log(`BENCH ${name}=${text.includes('.') ? text.replace(/\.?0+$/, '') : text}`);
}

export function arg(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/**
 * Postfix's smtp-source: N messages of `size` bytes over `sessions` parallel sessions, or N
 * copies of `file` (`-F`: its lines sent as they are, CRLF-ended, so a signed file stays signed).
 */
export async function smtpSource(options: { target: string; sessions: number; messages: number; size: number; from: string; to: string; file?: string; helo?: string }): Promise<void> {
  const payload = options.file ? ['-F', options.file] : ['-l', String(options.size)];
  const helo = options.helo ? ['-M', options.helo] : [];
  await run('/usr/sbin/smtp-source', ['-s', String(options.sessions), '-m', String(options.messages), ...payload, ...helo, '-f', options.from, '-t', options.to, options.target], { maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 });
}

export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The pids of a process's direct children (a gateway's listener workers). */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Proportional set size of a live process in MB: its private pages plus its share of the pages it shares. */
export function pssMb(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 'NaN') / 1024;
}

/**
 * Samples the Pss of a process and its children every `everyMs` and keeps the peak of their
 * sum: unlike summed VmHWMs, pages the processes share (Node's binary, libraries) count once.
 * A process that ends between the listing and the read is skipped for that sample.
 */
export function samplePssTree(pid: number, everyMs = 200): { stop(): number; each(): Record<number, number> } {
  let peak = 0;
  const each: Record<number, number> = {};
  const sample = () => {
    let total = 0;
    let pids: number[];
    try {
      pids = [pid, ...childrenOf(pid)];
    } catch {
      return; // the gateway itself is gone
    }
    for (const one of pids) {
      try {
        const mb = pssMb(one);
        each[one] = Math.max(each[one] ?? 0, Math.round(mb));
        total += mb;
      } catch {
        // gone since the listing
      }
    }
    peak = Math.max(peak, total);
  };
  sample();
  // Never what keeps the bench alive, should a failure skip stop().
  const timer = setInterval(sample, everyMs).unref();
  return {
    each: () => each,
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** peakRssMb of a process and its child processes (a gateway's listener workers), summed: an upper bound of the peak they held together. */
export function peakRssTreeMb(pid: number): number {
  return childrenOf(pid).reduce((sum, child) => sum + peakRssMb(child), peakRssMb(pid));
}

/** Each process's peak resident set, primary first: where a summed peak comes from. */
export function peakRssEachMb(pid: number): { pid: number; mb: number }[] {
  return [pid, ...childrenOf(pid)].map((one) => ({ pid: one, mb: Math.round(peakRssMb(one)) }));
}

/** Peak resident set (VmHWM) of a live process, in MB. */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 'NaN');
  return kb / 1024;
}
