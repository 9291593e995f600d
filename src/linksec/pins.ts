import { sql } from 'kysely';
import type { Store } from '../store/index.ts';
import { isLinkLevel } from '../kernel/index.ts';
import { canonicalDomain } from '../mail/index.ts';
import type { LinkLevel } from './level.ts';

export interface LinkPin {
  domain: string;
  minLevel: LinkLevel;
  note: string | null;
  createdAt: number;
}

export class PinError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PinError';
  }
}

/**
 * Admin pins: a destination domain held to a minimum link level whatever the sender asked
 * (e.g. `tls-verified` for a partner clinic). Delivery reads the domain's pin before each
 * attempt (one primary-key lookup, like the link-security memory), never through a cache: the
 * CLI that sets a pin runs in another process, and a cluster has several nodes, so a pin holds
 * from the next attempt on, everywhere.
 */
export class LinkPins {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  async pin(domain: string, minLevel: string, note: string | null, now: number): Promise<LinkPin> {
    if (!isLinkLevel(minLevel)) throw new PinError(`unknown link level ${JSON.stringify(minLevel)}: use none, tls, tls-verified or dane`);
    const row = { domain: keyOf(domain), min_level: minLevel, note, created_at: now };
    await this.store.db.insertInto('link_pins').values(row).onConflict((oc) => oc.column('domain').doUpdateSet(row)).execute();
    return { domain: row.domain, minLevel, note, createdAt: now };
  }

  async unpin(domain: string): Promise<boolean> {
    const result = await this.store.db.deleteFrom('link_pins').where('domain', '=', keyOf(domain)).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async list(): Promise<LinkPin[]> {
    const rows = await this.store.db.selectFrom('link_pins').selectAll().orderBy('domain').execute();
    return rows.map((r) => ({ domain: r.domain, minLevel: r.min_level as LinkLevel, note: r.note, createdAt: Number(r.created_at) }));
  }

  /** The pin of one destination domain, read now (see the class comment for why uncached). */
  async pinOf(domain: string): Promise<LinkLevel | undefined> {
    // Constant text (prepared once): read before every delivery, the builder cost more than the lookup (issue 14).
    const row = (await sql<{ min_level: string }>`select min_level from link_pins where domain = ${keyOf(domain)}`.execute(this.store.db)).rows[0];
    return row && isLinkLevel(row.min_level) ? row.min_level : undefined;
  }
}

/** Pins are keyed like delivery names the domain: lowercase A-labels, no trailing dot. */
function keyOf(domain: string): string {
  return canonicalDomain(domain);
}
