import { sql } from 'kysely';
import { LINK_LEVELS } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import { levelOf, type LinkLevel, type LinkObservation } from './level.ts';

/** The stored level's rank, in SQL (same on SQLite and PostgreSQL), to compare in one statement. */
const storedRank = sql<number>`CASE link_security.level ${sql.join(
  LINK_LEVELS.map((level, rank) => sql`WHEN ${sql.lit(level)} THEN ${sql.lit(rank)}`),
  sql` `,
)} ELSE 0 END`;

export interface LinkRecord extends LinkObservation {
  level: LinkLevel;
  /** Until when the observation is taken as true (the link-security issue sets TTLs by source). */
  expiresAt: number;
}

const REPEAT_WINDOW_MS = 60_000;

interface StoredObservation {
  /** The observation's fields other than its time, to tell a repeat. */
  same: string;
  at: number;
  result: LinkRecord & { kept: boolean };
}

/**
 * The per-destination memory of what each MX proved: written by every delivery attempt and by
 * `sealgate domain check`, one row per (domain, MX host), and read before each delivery
 * (`proven`) so a destination is held to what it proved (chasquid `domaininfo`). A weaker
 * session never lowers a record that still holds: only its TTL running out without a session
 * at that level, or an admin (`forget`), does.
 */
export class LinkSecurityMemory {
  private readonly store: Store;
  private readonly ttlMs: number;
  /** The last observation this process stored per domain and MX host, to skip repeating it. */
  private readonly lastStored = new Map<string, Map<string, StoredObservation>>();

  constructor(store: Store, ttlMs = 24 * 3_600_000) {
    this.store = store;
    this.ttlMs = ttlMs;
  }

  /**
   * `holdMs`: how long it holds when its source says (e.g. an MTA-STS max_age), else the
   * default TTL. Returns what this observation earned; `kept` when a stronger record that still
   * holds was left in place (the observation is then not stored).
   */
  async record(observation: LinkObservation, holdMs?: number, options: { force?: boolean } = {}): Promise<LinkRecord & { kept: boolean }> {
    const level = levelOf(observation);
    const row = {
      domain: observation.domain.toLowerCase(),
      mx_host: observation.mxHost.toLowerCase(),
      ip: observation.ip,
      starttls: observation.starttlsOffered ? 1 : 0,
      tls_version: observation.tlsVersion,
      cipher: observation.cipher,
      cert_subject: observation.certSubject,
      cert_valid: observation.certValid ? 1 : 0,
      cert_error: observation.certError,
      requiretls: observation.requireTlsAdvertised ? 1 : 0,
      error: observation.error,
      mta_sts: observation.mtaSts ?? null,
      dane: observation.dane ?? null,
      level,
      seen_at: observation.at,
      expires_at: observation.at + (holdMs ?? this.ttlMs),
    };
    // Every session to a destination observes the same thing: the same observation stored by
    // this process under a minute ago is not written again (an upsert per delivery, issue 14);
    // its record then holds at most that minute less.
    const same = JSON.stringify([row.ip, row.starttls, row.tls_version, row.cipher, row.cert_subject, row.cert_valid, row.cert_error, row.requiretls, row.error, row.mta_sts, row.dane, level, holdMs ?? null]);
    const previous = this.lastStored.get(row.domain)?.get(row.mx_host);
    if (!options.force && previous && previous.same === same && observation.at >= previous.at && observation.at - previous.at < REPEAT_WINDOW_MS) {
      return { ...previous.result, ...observation, level };
    }
    // One conditional upsert, so two nodes racing cannot lower a record between read and write.
    const result = await this.store.db
      .insertInto('link_security')
      .values(row)
      .onConflict((oc) =>
        oc
          .columns(['domain', 'mx_host'])
          .doUpdateSet(row)
          // Replaced when it no longer holds, by a stronger level, or by the same level holding
          // at least as long; `force` (an audited admin import) replaces unconditionally.
          .where((eb) =>
            options.force
              ? eb.lit(true)
              : eb.or([
                  eb('link_security.expires_at', '<=', observation.at),
                  eb(storedRank, '<', LINK_LEVELS.indexOf(level)),
                  eb.and([eb(storedRank, '=', LINK_LEVELS.indexOf(level)), eb('link_security.expires_at', '<=', row.expires_at)]),
                ]),
          ),
      )
      .executeTakeFirst();
    const kept = Number(result.numInsertedOrUpdatedRows ?? 1n) === 0;
    const recorded = { ...observation, level, expiresAt: row.expires_at, kept };
    let ofDomain = this.lastStored.get(row.domain);
    if (!ofDomain) {
      if (this.lastStored.size >= 1024) this.lastStored.clear();
      this.lastStored.set(row.domain, (ofDomain = new Map()));
    }
    ofDomain.set(row.mx_host, { same, at: observation.at, result: recorded });
    return recorded;
  }

  /** What the domain's MX hosts proved and still holds at `now` (read before each session). */
  async proven(domain: string, now: number): Promise<{ mxHost: string; level: LinkLevel; expiresAt: number }[]> {
    const rows = await this.store.db
      .selectFrom('link_security')
      .select(['mx_host', 'level', 'expires_at'])
      .where('domain', '=', domain.toLowerCase().replace(/\.$/, ''))
      .where('expires_at', '>', now)
      .execute();
    this.dropStaleSkips(domain, rows);
    return rows.map((r) => ({ mxHost: r.mx_host, level: r.level as LinkLevel, expiresAt: Number(r.expires_at) }));
  }

  /**
   * A skip holds only while the record it stands for is still there: another process (`domain
   * forget` from the CLI, the console beside a delivery thread) may have deleted or lowered it,
   * and the next session's observation must then be written, not skipped for up to a minute
   * (test/attacks/i14-30). Kept when the stored record is one our upsert would leave unchanged.
   */
  private dropStaleSkips(domain: string, rows: { mx_host: string; level: string; expires_at: number | bigint }[]): void {
    const ofDomain = this.lastStored.get(domain.toLowerCase().replace(/\.$/, ''));
    if (!ofDomain) return;
    for (const [mxHost, entry] of ofDomain) {
      const rank = LINK_LEVELS.indexOf(entry.result.level);
      const row = rows.find((r) => r.mx_host === mxHost);
      const storedRank = row ? LINK_LEVELS.indexOf(row.level as LinkLevel) : -1;
      if (!row || storedRank < rank || (storedRank === rank && Number(row.expires_at) < entry.result.expiresAt)) ofDomain.delete(mxHost);
    }
  }

  /** The admin lowers what was proved (`sealgate domain forget`): the records are gone. */
  async forget(domain: string, mxHost?: string): Promise<number> {
    this.lastStored.clear();
    let query = this.store.db.deleteFrom('link_security').where('domain', '=', domain.toLowerCase().replace(/\.$/, ''));
    if (mxHost) query = query.where('mx_host', '=', mxHost.toLowerCase().replace(/\.$/, ''));
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async list(domain?: string): Promise<LinkRecord[]> {
    let query = this.store.db.selectFrom('link_security').selectAll().orderBy('domain').orderBy('mx_host');
    if (domain) query = query.where('domain', '=', domain.toLowerCase());
    const rows = await query.execute();
    return rows.map((r) => ({
      domain: r.domain,
      mxHost: r.mx_host,
      ip: r.ip,
      starttlsOffered: r.starttls === 1,
      tlsVersion: r.tls_version,
      cipher: r.cipher,
      certSubject: r.cert_subject,
      certValid: r.cert_valid === 1,
      certError: r.cert_error,
      requireTlsAdvertised: r.requiretls === 1,
      error: r.error,
      mtaSts: r.mta_sts as LinkObservation['mtaSts'],
      dane: r.dane as LinkObservation['dane'],
      at: Number(r.seen_at),
      level: r.level as LinkLevel,
      expiresAt: Number(r.expires_at),
    }));
  }
}
