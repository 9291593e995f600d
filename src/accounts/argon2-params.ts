/** OWASP's Argon2id baseline (m=19 MiB, t=2, p=1), for account and app passwords alike. */
export const ARGON2 = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
