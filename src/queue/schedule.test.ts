import { describe, expect, it } from 'vitest';
import { delayNoticeDue, nextAttempt } from './schedule.ts';

const options = { retryScheduleMs: [60_000, 300_000, 3_600_000], maxAgeMs: 5 * 86_400_000, delayNoticeAfterMs: 4 * 3_600_000 };

describe('retry schedule', () => {
  it('backs off along the schedule and repeats the last step', () => {
    const t0 = 1_000_000;
    expect(nextAttempt(options, 1, t0, t0)).toBe(t0 + 60_000);
    expect(nextAttempt(options, 2, t0, t0)).toBe(t0 + 300_000);
    expect(nextAttempt(options, 3, t0, t0)).toBe(t0 + 3_600_000);
    expect(nextAttempt(options, 40, t0, t0)).toBe(t0 + 3_600_000);
  });

  it('expires after the maximum age and never schedules past it', () => {
    const t0 = 0;
    expect(nextAttempt(options, 5, t0, options.maxAgeMs)).toBe('expired');
    expect(nextAttempt(options, 5, t0, options.maxAgeMs - 10)).toBe(options.maxAgeMs);
  });

  it('sends one delay notice after four hours', () => {
    expect(delayNoticeDue(options, 0, 4 * 3_600_000 - 1, false)).toBe(false);
    expect(delayNoticeDue(options, 0, 4 * 3_600_000, false)).toBe(true);
    expect(delayNoticeDue(options, 0, 5 * 3_600_000, true)).toBe(false);
  });
});
