import { MailError, type Clock } from '../kernel/index.ts';
import type { Resolver } from '../dns/index.ts';
import { matchDane, type LinkObservation } from '../linksec/index.ts';
import { SmtpClient } from '../smtp/index.ts';
import { resolveValidated } from './validated-mx.ts';
import type { DomainAssessment, SecurityAssessor } from './security.ts';

export interface ProbeDeps {
  resolver: Resolver;
  heloName: string;
  port: number;
  extraCa: (string | Buffer)[];
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  ipFamilies?: (4 | 6)[];
  clock: Clock;
  security?: SecurityAssessor;
}

export interface ProbeResult {
  observations: (LinkObservation & { daneDetail?: string; policyNote?: string })[];
  assessment?: DomainAssessment;
}

/** What one session with an MX shows: filled in by delivery attempts and by the probe. */
export function observationOf(domain: string, host: string, ip: string | null, client: SmtpClient | null, starttlsOffered: boolean, error: string | null, now: number): LinkObservation {
  const tls = client?.tls ?? null;
  return {
    domain,
    mxHost: host,
    ip,
    starttlsOffered,
    tlsVersion: tls?.version ?? null,
    cipher: tls?.cipher ?? null,
    certSubject: tls?.certSubject ?? null,
    certValid: tls?.verified ?? false,
    certError: tls?.verifyError ?? null,
    requireTlsAdvertised: Boolean(tls && client?.has('REQUIRETLS')),
    error,
    at: now,
  };
}

/**
 * `sealgate domain check`: connects to every MX of a domain (first address of each), asks
 * for STARTTLS, checks the certificate against PKIX and the TLSA records, and sends no mail.
 */
export async function probeDomain(domain: string, deps: ProbeDeps): Promise<ProbeResult> {
  const secure = deps.security?.secureResolver;
  const resolved = await resolveValidated(domain, deps.resolver, secure, { families: deps.ipFamilies });
  if (resolved.bogus) throw new MailError(451, '4.7.5', `${resolved.bogus}; DANE cannot be checked`, 'delivery');
  if (resolved.disagreement) throw new MailError(451, '4.4.3', `DNS answers for ${domain} disagree: ${resolved.disagreement}`, 'delivery');
  const destinations = resolved.destinations;
  const dnssec = secure ? { mxSecure: resolved.mxSecure, bogus: resolved.bogus } : undefined;
  const assessment = deps.security ? await deps.security.assess(domain, destinations.map((d) => d.host), dnssec) : undefined;
  const observations: ProbeResult['observations'] = [];
  for (const destination of destinations) {
    const host = assessment?.hosts.get(destination.host);
    const mtaSts = assessment?.sts?.mode ?? null;
    const policyNote = host?.unusable?.reason ?? (host?.security.kind === 'sts' ? `listed in the MTA-STS policy (${host.security.mode})` : host?.security.kind === 'dane-unusable' ? 'TLSA records published, none usable: TLS required without authentication' : undefined);
    const ip = destination.addresses[0] ?? null;
    if (!ip) {
      observations.push({ ...observationOf(domain, destination.host, null, null, false, 'no address', deps.clock.now()), mtaSts, dane: null, policyNote });
      continue;
    }
    let client: SmtpClient | null = null;
    let offered = false;
    try {
      client = await SmtpClient.connect({ host: ip, port: deps.port, servername: destination.host, heloName: deps.heloName, connectTimeoutMs: deps.connectTimeoutMs, commandTimeoutMs: deps.commandTimeoutMs });
      await client.ehlo();
      offered = client.has('STARTTLS');
      const details = offered ? await client.startTls({ ca: deps.extraCa }) : null;
      const dane = details && host?.tlsa ? matchDane(details.peerChain, host.tlsa, [destination.host, domain]) : null;
      observations.push({
        ...observationOf(domain, destination.host, ip, client, offered, null, deps.clock.now()),
        mtaSts,
        dane: dane ? (dane.matched ? 'matched' : 'mismatch') : null,
        daneDetail: dane?.reason ?? (host?.tlsa && !details ? 'TLSA records published but no TLS session' : undefined),
        policyNote,
      });
    } catch (error) {
      observations.push({ ...observationOf(domain, destination.host, ip, client, offered, (error as Error).message, deps.clock.now()), mtaSts, dane: host?.tlsa ? 'mismatch' : null, policyNote });
    } finally {
      await client?.quit();
    }
  }
  return { observations, assessment };
}
