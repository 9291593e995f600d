/**
 * `node --import` preload for tests: this process's wall clock runs SEALGATE_TEST_CLOCK_SKEW_MS
 * ahead (or behind, when negative), as on a node whose NTP is broken. Date.now and new Date()
 * shift; monotonic timers (setTimeout, performance.now) keep real time, as they do on such a host.
 */
const skew = Number(process.env.SEALGATE_TEST_CLOCK_SKEW_MS ?? '0');
if (skew) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + skew);
      else super(...(args as [string | number]));
    }
    static override now(): number {
      return realNow() + skew;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}
