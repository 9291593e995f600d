import { isIP } from 'node:net';
import { sql } from 'kysely';
import { systemClock, type Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';

/*
 * Attempt budgets for anything that checks a secret a person chose (OWASP ASVS 4.0 L2 V2.2.1:
 * anti-automation against brute force and credential stuffing; V2.2.2 soft lock). One table,
 * `login_budgets`, in the shared database, so every protocol (SMTP AUTH, console login, the
 * pickup gate) and every cluster node spend the same budget.
 *
 * A key (`account:alice`, `ip:192.0.2.7`, `ip:2001:db8:1:2::/64`) counts failures in a fixed
 * window. An attempt is *reserved* by one conditional UPDATE before the expensive check, so
 * parallel guesses cannot all pass a check that was read before any of them was counted: the
 * reservation is the failure, and a success gives only its own reservation back. The first
 * `freeAttempts` go at once; each later one must wait twice as long as the one before
 * (`baseDelayMs` · 2ⁿ, at most `maxDelayMs`), and at `maxFailures` the key is locked until its
 * window ends. Rows expire with their window and are swept; nothing is ever cleared wholesale,
 * so flooding the table with new keys frees no one else's lock.
 */

export interface BudgetPolicy {
  /** Failures per window after which the key is locked until the window ends. */
  maxFailures: number;
  windowMs: number;
  /** Failures allowed before any delay applies. */
  freeAttempts: number;
  /** Delay after the first failure past the free ones; doubled for each further one. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** `key`: the budget that refused (from `reserve`). */
export type Refusal = { reason: 'locked' | 'slow-down'; retryAfterMs: number; key?: string };

/** One reserved attempt on each key; give it to `refund` when the attempt succeeded. */
export interface Reservation {
  keys: { key: string; windowStart: number }[];
}

/** A network, not a host: one IPv4 address, or the /64 an IPv6 host gets (RFC 6177 site prefix). */
export function networkOf(address: string): string {
  let ip = address.trim();
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) ip = ip.slice(7);
  if (isIP(ip) === 4) return ip;
  if (isIP(ip) !== 6) return ip.toLowerCase();
  const zoneless = ip.split('%')[0].toLowerCase();
  const [head, tail = ''] = zoneless.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = zoneless.includes('::') ? (tail ? tail.split(':') : []) : [];
  // An embedded IPv4 tail counts as two groups; it lies in the host half anyway.
  const width = (groups: string[]) => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = [...headGroups, ...Array(Math.max(0, 8 - width(headGroups) - width(tailGroups))).fill('0'), ...tailGroups];
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/** The delay that follows the `n`th failure in a window (pure; `n` from 1). */
export function delayAfter(n: number, policy: BudgetPolicy): number {
  if (n <= policy.freeAttempts) return 0;
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - policy.freeAttempts - 1));
}

const SWEEP_EVERY_MS = 60_000;

export class LoginBudget {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly databaseClock: boolean;
  private lastSweep = 0;

  /**
   * `window_start`, `next_at` and the sweep compare times written by every node: on PostgreSQL
   * they are read from the database's clock (`now()`), as the queue's leases are, so a node
   * whose clock runs ahead cannot skip a delay another node set. SQLite is one process: its
   * clock. By default the database clock is used only with the system clock, so tests that
   * drive a fake clock keep it.
   */
  constructor(store: Store, clock: Clock, options: { databaseClock?: boolean } = {}) {
    this.store = store;
    this.clock = clock;
    this.databaseClock = store.capabilities.databaseClock === true && (options.databaseClock ?? clock === systemClock);
  }

  /** Now, in ms, on the clock all nodes share. */
  private async now(): Promise<number> {
    if (!this.databaseClock) return this.clock.now();
    const { rows } = await sql<{ now: string | number }>`SELECT CAST(extract(epoch from now()) * 1000 AS BIGINT) AS now`.execute(this.store.db);
    return Number(rows[0].now);
  }

  /**
   * Reserves one attempt on every key, or none: a refused key gives back those already taken.
   * Returns the reservation, or why and for how long the attempt must wait.
   */
  async reserve(entries: { key: string; policy: BudgetPolicy }[]): Promise<Reservation | Refusal> {
    const taken: Reservation = { keys: [] };
    for (const { key, policy } of entries) {
      const result = await this.reserveOne(key, policy);
      if ('reason' in result) {
        await this.refund(taken);
        return { ...result, key };
      }
      taken.keys.push({ key, windowStart: result.windowStart });
    }
    void this.sweepSometimes();
    return taken;
  }

  /** A success: its own reservations go back (only within the window they were taken in). */
  async refund(reservation: Reservation): Promise<void> {
    for (const { key, windowStart } of reservation.keys) {
      await this.store.db.updateTable('login_budgets').set((eb) => ({ failures: eb('failures', '-', 1) }))
        .where('key', '=', key).where('window_start', '=', windowStart).where('failures', '>', 0).execute();
    }
  }

  private async reserveOne(key: string, policy: BudgetPolicy): Promise<{ windowStart: number } | Refusal> {
    // A sweep may delete an expired row between the insert and the update: then start again.
    for (let round = 0; ; round++) {
      const result = await this.tryReserve(key, policy);
      if (result !== 'gone' || round === 2) return result === 'gone' ? { reason: 'slow-down', retryAfterMs: 1000 } : result;
    }
  }

  private async tryReserve(key: string, policy: BudgetPolicy): Promise<{ windowStart: number } | Refusal | 'gone'> {
    const now = await this.now();
    const { windowMs, maxFailures } = policy;
    await this.store.db.insertInto('login_budgets').values({ key, failures: 0, window_start: now, next_at: 0, expires_at: now + windowMs + policy.maxDelayMs })
      .onConflict((oc) => oc.column('key').doNothing()).execute();
    // Every value is cast: PostgreSQL cannot type `$1 + $2` from untyped parameters.
    const n = (value: number) => sql<number>`CAST(${value} AS BIGINT)`;
    const stale = sql<boolean>`window_start + ${n(windowMs)} <= ${n(now)}`;
    const newCount = sql<number>`(CASE WHEN ${stale} THEN 1 ELSE failures + 1 END)`;
    const windowStart = sql<number>`(CASE WHEN ${stale} THEN ${n(now)} ELSE window_start END)`;
    // The delay table for counts 1..maxFailures, so the whole step is one statement.
    const delays = Array.from({ length: maxFailures }, (_, i) => delayAfter(i + 1, policy));
    const delayOf = delays.some((d) => d > 0)
      ? sql<number>`(CASE ${newCount} ${sql.join(delays.map((d, i) => sql`WHEN ${sql.lit(i + 1)} THEN ${n(d)}`), sql` `)} ELSE ${n(policy.maxDelayMs)} END)`
      : n(0);
    const row = await this.store.db.updateTable('login_budgets')
      .set({
        failures: newCount,
        window_start: windowStart,
        next_at: sql<number>`${n(now)} + ${delayOf}`,
        expires_at: sql<number>`${windowStart} + ${n(windowMs + policy.maxDelayMs)}`,
      })
      .where('key', '=', key)
      .where('next_at', '<=', now)
      .where((eb) => eb.or([eb(sql<number>`window_start + ${n(windowMs)}`, '<=', now), eb('failures', '<', maxFailures)]))
      .returning(['window_start'])
      .executeTakeFirst();
    if (row) return { windowStart: Number(row.window_start) };
    const current = await this.store.db.selectFrom('login_budgets').select(['failures', 'window_start', 'next_at']).where('key', '=', key).executeTakeFirst();
    if (!current) return 'gone';
    const windowEnd = Number(current.window_start) + windowMs;
    if (current.failures >= maxFailures && windowEnd > now) return { reason: 'locked', retryAfterMs: windowEnd - now };
    return { reason: 'slow-down', retryAfterMs: Math.max(1000, Number(current.next_at) - now) };
  }

  /** An admin's unlock: the key's failures and delay are forgotten at once. */
  async clear(key: string): Promise<void> {
    await this.store.db.deleteFrom('login_budgets').where('key', '=', key).execute();
  }

  /** When the key's lock ends, or null when it is not locked (its failures are below `policy`'s limit). */
  async lockedUntil(key: string, policy: BudgetPolicy): Promise<number | null> {
    const row = await this.store.db.selectFrom('login_budgets').select(['failures', 'window_start']).where('key', '=', key).executeTakeFirst();
    if (!row || row.failures < policy.maxFailures) return null;
    const end = Number(row.window_start) + policy.windowMs;
    return end > (await this.now()) ? end : null;
  }

  /** Deletes rows whose window and delay have both passed: forgetting them changes nothing. */
  async sweep(at?: number): Promise<number> {
    const now = at ?? (await this.now());
    const result = await this.store.db.deleteFrom('login_budgets').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private async sweepSometimes(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    await this.sweep().catch(() => undefined);
  }
}

/** "5 minutes", "40 seconds": how long a person must wait, rounded up. */
export function waitText(ms: number): string {
  if (ms >= 90_000) {
    const minutes = Math.ceil(ms / 60_000);
    return `${minutes} minutes`;
  }
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}
