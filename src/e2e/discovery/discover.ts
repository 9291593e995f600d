/**
 * Finding a correspondent's OpenPGP key: WKD first (the recipient's own domain speaks), then
 * the configured keyserver; each answer, found or not, cached with an expiry; found keys go
 * into the key store under their source, whose rules decide what they replace.
 */
import type { Resolver } from '../../dns/index.ts';
import type { Store } from '../../store/index.ts';
import type { E2eKeyStore, PeerKeyInfo } from '../keystore/index.ts';
import { DiscoveryCache } from './cache.ts';
import type { HttpsFetcher } from './https-fetch.ts';
import { lookupKeyserver } from './keyserver.ts';
import { lookupWkd } from './wkd.ts';

export interface DiscoveryOptions {
  wkd: { enabled: boolean; port: number };
  keyserver: { url?: string; protocol: 'auto' | 'vks' | 'hkp' };
  cacheMs: number;
  negativeCacheMs: number;
}

export interface DiscoveryStep {
  source: 'wkd' | 'keyserver';
  outcome: 'found' | 'none' | 'error';
  fromCache: boolean;
  detail: string;
  keys: PeerKeyInfo[];
}

export interface DiscoveryReport {
  address: string;
  steps: DiscoveryStep[];
  found: PeerKeyInfo[];
}

export class KeyDiscovery {
  private readonly cache: DiscoveryCache;
  private readonly keys: E2eKeyStore;
  private readonly io: { fetch: HttpsFetcher; resolver: Resolver };
  private readonly options: DiscoveryOptions;

  constructor(store: Store, keys: E2eKeyStore, io: { fetch: HttpsFetcher; resolver: Resolver }, options: DiscoveryOptions) {
    this.cache = new DiscoveryCache(store);
    this.keys = keys;
    this.io = io;
    this.options = options;
  }

  /** Asks each configured source (stopping at the first that has a key); `fresh` skips the cache. */
  async discover(address: string, now: Date, { fresh = false }: { fresh?: boolean } = {}): Promise<DiscoveryReport> {
    const who = address.trim().toLowerCase();
    const steps: DiscoveryStep[] = [];
    const sources: { source: 'wkd' | 'keyserver'; ask: () => Promise<{ keys: Uint8Array | null; detail: string }> }[] = [];
    if (this.options.wkd.enabled) sources.push({ source: 'wkd', ask: () => lookupWkd(who, { ...this.io, port: this.options.wkd.port }) });
    const { url, protocol } = this.options.keyserver;
    if (url) sources.push({ source: 'keyserver', ask: () => lookupKeyserver(who, url, protocol, this.io.fetch) });
    for (const { source, ask } of sources) {
      const lookup = `${source}:${who}`;
      const t = now.getTime();
      let answer = fresh ? undefined : await this.cache.get(lookup, t);
      const fromCache = answer !== undefined;
      if (!answer) {
        try {
          const got = await ask();
          answer = { ...got, fetchedAt: t };
          await this.cache.put(lookup, got, t, got.keys ? this.options.cacheMs : this.options.negativeCacheMs);
        } catch (error) {
          // Transient (network, TLS, HTTP 5xx): not cached, the next lookup asks again.
          steps.push({ source, outcome: 'error', fromCache: false, detail: (error as Error).message, keys: [] });
          continue;
        }
      }
      if (!answer.keys) {
        steps.push({ source, outcome: 'none', fromCache, detail: answer.detail, keys: [] });
        continue;
      }
      // A cached answer is recorded at the time it was fetched: its trust runs from then.
      const seenAt = new Date(answer.fetchedAt);
      const recorded = source === 'wkd' ? await this.keys.applyWkdAnswer(who, answer.keys, seenAt) : await this.keys.addPeerKeys(answer.keys, 'keyserver', seenAt, who);
      steps.push({ source, outcome: 'found', fromCache, detail: answer.detail, keys: recorded });
      break;
    }
    return { address: who, steps, found: steps.flatMap((s) => s.keys) };
  }
}
