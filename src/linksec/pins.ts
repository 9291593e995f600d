import type { Store } from '../store/index.ts';
import { isLinkLevel } from '../kernel/index.ts';
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
 * (e.g. `tls-verified` for a partner clinic). Delivery reads them through a short cache.
 */
export class LinkPins {
  private readonly store: Store;
  private readonly cacheMs: number;
  private snapshot: { at: number; pins: Map<string, LinkLevel> } | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(store: Store, cacheMs = 30_000) {
    this.store = store;
    this.cacheMs = cacheMs;
  }

  async pin(domain: string, minLevel: string, note: string | null, now: number): Promise<LinkPin> {
    if (!isLinkLevel(minLevel)) throw new PinError(`unknown link level ${JSON.stringify(minLevel)}: use none, tls, tls-verified or dane`);
    const row = { domain: domain.toLowerCase().replace(/\.$/, ''), min_level: minLevel, note, created_at: now };
    await this.store.db.insertInto('link_pins').values(row).onConflict((oc) => oc.column('domain').doUpdateSet(row)).execute();
    this.snapshot = undefined;
    return { domain: row.domain, minLevel, note, createdAt: now };
  }

  async unpin(domain: string): Promise<boolean> {
    const result = await this.store.db.deleteFrom('link_pins').where('domain', '=', domain.toLowerCase()).executeTakeFirst();
    this.snapshot = undefined;
    return Number(result.numDeletedRows) > 0;
  }

  async list(): Promise<LinkPin[]> {
    const rows = await this.store.db.selectFrom('link_pins').selectAll().orderBy('domain').execute();
    return rows.map((r) => ({ domain: r.domain, minLevel: r.min_level as LinkLevel, note: r.note, createdAt: Number(r.created_at) }));
  }

  /** The pin of a domain from the cache; refreshed in the background when stale. */
  cachedPin(domain: string, now: number): LinkLevel | undefined {
    if (!this.snapshot || now - this.snapshot.at > this.cacheMs) void this.refresh(now);
    return this.snapshot?.pins.get(domain.toLowerCase());
  }

  async refresh(now: number): Promise<void> {
    this.refreshing ??= this.list()
      .then((pins) => {
        this.snapshot = { at: now, pins: new Map(pins.map((p) => [p.domain, p.minLevel])) };
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }
}
