import tls from 'node:tls';
import type { Config } from '../config/index.ts';
import type { Logger } from '../kernel/index.ts';
import { createSecureResolver, type Resolver, type SecureResolver } from '../dns/index.ts';
import { MtaStsCache, mxMatchesPolicy, policyToApply, usableTlsaRecords, type MtaStsPolicy, type TlsaRecord } from '../linksec/index.ts';
import type { Store } from '../store/index.ts';
import type { HostSecurity } from '../policy/index.ts';

/** What a destination publishes for one MX host, with what is needed to check it. */
export interface HostAssessment {
  security: HostSecurity;
  /** Usable TLSA records (DANE), checked against the peer's chain after STARTTLS. */
  tlsa?: TlsaRecord[];
  /** The TLSA records as text, for reports. */
  tlsaText?: string[];
  /** Why this host must not be used at all (DNSSEC-bogus TLSA, not in the MTA-STS policy). */
  unusable?: { reason: string; temporary: boolean };
}

export interface DomainAssessment {
  domain: string;
  /** The MX RRset was DNSSEC-validated (the precondition of DANE, RFC 7672 §2.2.1). */
  mxSecure: boolean;
  /** A DNSSEC-bogus answer for the MX RRset: the domain is deferred (RFC 7672 §2.1.1). */
  bogus?: string;
  sts?: MtaStsPolicy;
  /** Why no MTA-STS policy could be had (reportable as sts-policy-fetch-error). */
  stsError?: string;
  hosts: Map<string, HostAssessment>;
}

export interface SecurityDeps {
  /** A validating resolver named in the config; without it DANE is off (its AD bit is trusted). */
  secure?: SecureResolver;
  mtaSts?: MtaStsCache;
  logger: Logger;
  /** How long an assessment is reused in memory (ms). */
  cacheMs?: number;
  now?: () => number;
}

function tlsaText(record: TlsaRecord): string {
  return `${record.usage} ${record.selector} ${record.matchingType} ${record.data.toString('hex')}`;
}

/**
 * Finds, per destination domain, what its DNSSEC-signed TLSA records and MTA-STS policy
 * demand of each MX host. Results are kept briefly in memory so a busy domain costs one set of
 * lookups per `cacheMs`, not one per message.
 */
export class SecurityAssessor {
  private readonly deps: SecurityDeps;
  private readonly cache = new Map<string, { at: number; value: Promise<DomainAssessment> }>();
  private readonly now: () => number;

  constructor(deps: SecurityDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /** The validating resolver, when the config names one: routing asks it first (validated-mx.ts). */
  get secureResolver(): SecureResolver | undefined {
    return this.deps.secure;
  }

  /**
   * `dnssec`: what resolving the MX hosts already found out (validated-mx.ts); without it the
   * assessor asks the validating resolver about the MX RRset itself.
   */
  assess(domain: string, mxHosts: string[], dnssec?: { mxSecure: boolean; bogus?: string }): Promise<DomainAssessment> {
    const key = `${domain.toLowerCase()}|${mxHosts.join(',')}|${dnssec ? `${dnssec.mxSecure}${dnssec.bogus ? '!' : ''}` : '?'}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < (this.deps.cacheMs ?? 60_000)) return hit.value;
    const value = this.assessNow(domain.toLowerCase(), mxHosts, dnssec);
    this.cache.set(key, { at: this.now(), value });
    value.catch(() => this.cache.delete(key));
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return value;
  }

  private async assessNow(domain: string, mxHosts: string[], known?: { mxSecure: boolean; bogus?: string }): Promise<DomainAssessment> {
    const [dnssec, sts] = await Promise.all([known && this.deps.secure ? known : this.dnssecOf(domain), this.stsOf(domain)]);
    const assessment: DomainAssessment = { domain, mxSecure: dnssec.mxSecure, bogus: dnssec.bogus, sts: sts.policy, stsError: sts.error, hosts: new Map() };
    await Promise.all(
      mxHosts.map(async (host) => {
        assessment.hosts.set(host, await this.hostOf(host, dnssec.mxSecure, sts.policy));
      }),
    );
    return assessment;
  }

  private async dnssecOf(domain: string): Promise<{ mxSecure: boolean; bogus?: string }> {
    const secure = this.deps.secure;
    if (!secure) return { mxSecure: false };
    const mx = await secure.query(domain, 'MX');
    if (mx.rcode === 'SERVFAIL') return { mxSecure: false, bogus: `the MX records of ${domain} failed DNSSEC validation (SERVFAIL from the validating resolver)` };
    if (mx.records.length) return { mxSecure: mx.secure };
    // No MX: the domain itself is the implicit MX (RFC 7672 §2.2.1 applies to its address).
    const address = await secure.query(domain, 'A');
    if (address.rcode === 'SERVFAIL') return { mxSecure: false, bogus: `the address of ${domain} failed DNSSEC validation` };
    return { mxSecure: address.secure };
  }

  private async stsOf(domain: string): Promise<{ policy?: MtaStsPolicy; error?: string }> {
    if (!this.deps.mtaSts) return {};
    try {
      const lookup = await this.deps.mtaSts.lookup(domain);
      const policy = policyToApply(lookup);
      return { policy: policy && policy.mode !== 'none' ? policy : undefined, error: lookup.kind === 'error' ? lookup.reason : undefined };
    } catch (error) {
      this.deps.logger.warn({ domain, err: (error as Error).message }, 'MTA-STS lookup failed');
      return { error: (error as Error).message };
    }
  }

  private async hostOf(host: string, mxSecure: boolean, sts: MtaStsPolicy | undefined): Promise<HostAssessment> {
    if (this.deps.secure && mxSecure) {
      const answer = await this.deps.secure.query(`_25._tcp.${host}`, 'TLSA');
      if (answer.rcode === 'SERVFAIL') {
        return { security: { kind: 'none' }, unusable: { reason: `the TLSA records of ${host} failed DNSSEC validation; deferring`, temporary: true } };
      }
      if (answer.secure && answer.records.length) {
        const usable = usableTlsaRecords(answer.records);
        if (usable.usable) return { security: { kind: 'dane' }, tlsa: usable.records, tlsaText: usable.records.map(tlsaText) };
        return { security: { kind: 'dane-unusable' }, tlsaText: answer.records.map(tlsaText) };
      }
    }
    if (sts) {
      if (!mxMatchesPolicy(host, sts)) {
        if (sts.mode === 'enforce') return { security: { kind: 'none' }, unusable: { reason: `${host} is not listed in the MTA-STS policy of the domain (enforce)`, temporary: true } };
        return { security: { kind: 'none' } };
      }
      return { security: { kind: 'sts', mode: sts.mode === 'enforce' ? 'enforce' : 'testing' } };
    }
    return { security: { kind: 'none' } };
  }
}

/** DANE (only with a named validating resolver) and MTA-STS, as the config says. */
export function createSecurityAssessor(config: Config, store: Store, resolver: Resolver, extraCa: Buffer[], logger: Logger): SecurityAssessor {
  const secure = config.delivery.dnssecResolvers.length ? createSecureResolver({ servers: config.delivery.dnssecResolvers, timeoutMs: 5000 }) : undefined;
  const mtaSts = config.delivery.mtaSts.enabled
    ? new MtaStsCache(store, {
        resolveTxt: (name) => resolver.resolveTxt(name),
        ca: extraCa.length ? [...tls.rootCertificates.map((pem) => Buffer.from(pem)), ...extraCa] : undefined,
        port: config.delivery.mtaSts.port,
        connectAddress: async (host) => (await resolver.resolve4(host))[0],
      })
    : undefined;
  return new SecurityAssessor({ secure, mtaSts, logger });
}
