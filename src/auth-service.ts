import type { Transform } from 'node:stream';
import { analyzeMessage, DkimKeys, InboundAuthTap, type ArcSealKey, type MessageAnalysis, type OutboundSigner } from './auth/index.ts';
import type { Config } from './config/index.ts';
import { createSystemResolver, type Resolver } from './dns/index.ts';
import { canonicalDomain, parseAddress } from './mail/index.ts';
import type { Envelope } from './kernel/index.ts';
import type { Runtime } from './runtime.ts';

/** Keys change only through the CLI (`domain dkim`, `--rotate`); re-read after this long. */
const KEY_CACHE_MS = 60_000;
/** A domain without keys is asked again sooner: its first keys should sign (and seal) soon after they are made. */
const NO_KEY_CACHE_MS = 5_000;

function cachedKeys(keys: DkimKeys, now: () => number): (domain: string) => ReturnType<DkimKeys['current']> {
  const cache = new Map<string, { at: number; ttl: number; keys: ReturnType<DkimKeys['current']> }>();
  return (domain) => {
    const name = canonicalDomain(domain);
    const hit = cache.get(name);
    if (hit && now() - hit.at < hit.ttl) return hit.keys;
    const loaded = keys.current(name);
    const entry = { at: now(), ttl: KEY_CACHE_MS, keys: loaded };
    cache.set(name, entry);
    loaded.then((found) => (entry.ttl = found.length ? KEY_CACHE_MS : NO_KEY_CACHE_MS), () => cache.delete(name));
    return loaded;
  };
}

function authDnsResolver(config: Config): Resolver {
  const servers = config.auth.dnsServers.length ? config.auth.dnsServers : config.delivery.dnsServers;
  return createSystemResolver({ servers: servers.length ? servers : undefined });
}

/** The console's header analysis (web `analyzeMessage`): DKIM and ARC checked again with the auth resolver. */
export function messageAnalyzerFor(config: Config): (message: Buffer) => Promise<MessageAnalysis> {
  const resolver = authDnsResolver(config);
  return (message) => analyzeMessage(message, resolver);
}

/** Whether DMARC is acted on for a message to these recipients (auth.dmarc). */
export function enforcesDmarc(config: Config, recipients: string[]): boolean {
  return recipients.some((address) => {
    const domain = parseAddress(address)?.domain;
    return (config.auth.dmarc.domains[domain ? canonicalDomain(domain) : ''] ?? config.auth.dmarc.default) === 'enforce';
  });
}

/** The MX listener's hook (IngressDeps.inboundAuth), or undefined with `auth.verifyInbound` off. */
export function inboundAuthFor(runtime: Runtime): ((envelope: Envelope, client: { ip: string; helo: string; mailFrom: string }) => Transform) | undefined {
  const { config, logger, clock } = runtime;
  if (!config.auth.verifyInbound) return undefined;
  const resolver = authDnsResolver(config);
  const keysOf = cachedKeys(new DkimKeys(runtime.store, runtime.vault), () => clock.now());
  const sealDomain = config.auth.arcSealDomain;
  const arcSealKey = sealDomain
    ? async (): Promise<ArcSealKey | undefined> => {
        const rsa = (await keysOf(sealDomain)).find((k) => k.algorithm === 'rsa');
        return rsa ? { domain: rsa.domain, selector: rsa.selector, privateKeyPem: rsa.privateKeyPem } : undefined;
      }
    : undefined;
  const options = { hostname: config.hostname, resolver, enforceFor: (recipients: string[]) => enforcesDmarc(config, recipients), arcSealKey, logger: logger.child({ module: 'auth' }) };
  return (envelope, client) => new InboundAuthTap(envelope, client, options);
}

/** The delivery side's signer (RemoteDeps.signer), or undefined with `auth.signOutbound` off. */
export function outboundSignerFor(runtime: Runtime): OutboundSigner | undefined {
  const { config, logger, clock } = runtime;
  if (!config.auth.signOutbound) return undefined;
  return { keysFor: cachedKeys(new DkimKeys(runtime.store, runtime.vault), () => clock.now()), logger: logger.child({ module: 'auth' }), now: () => clock.now() };
}
