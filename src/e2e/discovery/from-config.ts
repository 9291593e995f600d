/**
 * The key discovery an installation's config describes: WKD and the keyserver over HTTPS with
 * the system CAs plus `delivery.extraCaFiles`, names through `delivery.dnsServers`. Shared by
 * `sealgate keys discover` and delivery, so both ask the same sources the same way.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../../config/index.ts';
import { createSystemResolver } from '../../dns/index.ts';
import type { Store } from '../../store/index.ts';
import type { E2eKeyStore } from '../keystore/index.ts';
import { KeyDiscovery } from './discover.ts';
import { createHttpsFetcher } from './https-fetch.ts';

/** True when the config names at least one source to ask. */
export function discoveryConfigured(config: Config): boolean {
  return config.e2e.wkd.enabled || config.e2e.keyserver.url !== undefined;
}

export function keyDiscoveryFor(config: Config, store: Store, keys: E2eKeyStore): KeyDiscovery {
  const resolver = createSystemResolver({ servers: config.delivery.dnsServers.length ? config.delivery.dnsServers : undefined });
  const fetch = createHttpsFetcher({ extraCa: config.delivery.extraCaFiles.map((f) => readFileSync(f)), resolver, timeoutMs: config.e2e.discovery.timeoutMs });
  const { discovery } = config.e2e;
  return new KeyDiscovery(store, keys, { fetch, resolver }, { wkd: config.e2e.wkd, keyserver: config.e2e.keyserver, cacheMs: discovery.cacheMinutes * 60_000, negativeCacheMs: discovery.negativeCacheMinutes * 60_000 });
}
