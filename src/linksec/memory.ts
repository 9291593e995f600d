import type { Store } from '../store/index.ts';
import { levelOf, type LinkLevel, type LinkObservation } from './level.ts';

export interface LinkRecord extends LinkObservation {
  level: LinkLevel;
  /** Until when the observation is taken as true (the link-security issue sets TTLs by source). */
  expiresAt: number;
}

/**
 * The per-destination memory of what each MX last proved: written by every delivery attempt
 * and by `sealgate domain check`, one row per (domain, MX host).
 */
export class LinkSecurityMemory {
  private readonly store: Store;
  private readonly ttlMs: number;

  constructor(store: Store, ttlMs = 24 * 3_600_000) {
    this.store = store;
    this.ttlMs = ttlMs;
  }

  /** `holdMs`: how long it holds when its source says (e.g. an MTA-STS max_age), else the default TTL. */
  async record(observation: LinkObservation, holdMs?: number): Promise<LinkRecord> {
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
    await this.store.db
      .insertInto('link_security')
      .values(row)
      .onConflict((oc) => oc.columns(['domain', 'mx_host']).doUpdateSet(row))
      .execute();
    return { ...observation, level, expiresAt: row.expires_at };
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
