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

/** peakRssMb of a process and its child processes (a gateway's listener workers), summed: an upper bound of the peak they held together. */
export function peakRssTreeMb(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.reduce((sum, child) => sum + peakRssMb(child), peakRssMb(pid));
}

/** Peak resident set (VmHWM) of a live process, in MB. */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 'NaN');
  return kb / 1024;
}
