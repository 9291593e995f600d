/**
 * Fault injection for the crash benchmark: `SEALGATE_CRASH_POINTS=after-enqueue-commit,
 * after-remote-accept` and `SEALGATE_CRASH_RATE=0.02` make the process SIGKILL itself at
 * those points with that probability. Unset (always, outside bench/crash), it does nothing.
 */
const points = new Set((process.env.SEALGATE_CRASH_POINTS ?? '').split(',').filter(Boolean));
const rate = Number(process.env.SEALGATE_CRASH_RATE ?? '0');

export function crashPoint(name: string): void {
  if (points.size && points.has(name) && Math.random() < rate) process.kill(process.pid, 'SIGKILL');
}
