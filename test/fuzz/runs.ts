/**
 * How many runs each property gets: a small sample in `npm test`, ≥ 10^5 in `npm run fuzz`
 * (which sets SEALGATE_FUZZ_RUNS). The timeout grows with the runs.
 */
export const FUZZ_RUNS = Math.max(1, Number(process.env.SEALGATE_FUZZ_RUNS ?? 500) || 500);
export const FUZZ_TIMEOUT_MS = FUZZ_RUNS > 1000 ? 60 * 60_000 : 60_000;
