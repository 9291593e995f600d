export interface RetryOptions {
  /** Delays between attempts; the last one repeats. */
  retryScheduleMs: number[];
  maxAgeMs: number;
  delayNoticeAfterMs: number;
}

/** When the next attempt after `attemptsSoFar` failed attempts is due, or 'expired'. */
export function nextAttempt(options: RetryOptions, attemptsSoFar: number, createdAt: number, now: number): number | 'expired' {
  const expiresAt = createdAt + options.maxAgeMs;
  if (now >= expiresAt) return 'expired';
  const schedule = options.retryScheduleMs;
  const delay = schedule[Math.min(Math.max(attemptsSoFar - 1, 0), schedule.length - 1)];
  // The last try happens at expiry, so a message never waits past its lifetime to bounce.
  return Math.min(now + delay, expiresAt);
}

export function delayNoticeDue(options: RetryOptions, createdAt: number, now: number, alreadySent: boolean): boolean {
  return !alreadySent && now - createdAt >= options.delayNoticeAfterMs;
}
