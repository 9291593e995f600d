import type { Clock } from '../kernel/index.ts';
import type { Resolver } from '../dns/index.ts';
import type { LinkObservation } from '../linksec/index.ts';
import { SmtpClient } from '../smtp/index.ts';
import { resolveDestinations } from './mx.ts';

export interface ProbeDeps {
  resolver: Resolver;
  heloName: string;
  port: number;
  extraCa: (string | Buffer)[];
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  ipFamilies?: (4 | 6)[];
  clock: Clock;
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
 * for STARTTLS and checks the certificate, and sends no mail.
 */
export async function probeDomain(domain: string, deps: ProbeDeps): Promise<LinkObservation[]> {
  const destinations = await resolveDestinations(domain, deps.resolver, { families: deps.ipFamilies });
  const observations: LinkObservation[] = [];
  for (const destination of destinations) {
    const ip = destination.addresses[0] ?? null;
    if (!ip) {
      observations.push(observationOf(domain, destination.host, null, null, false, 'no address', deps.clock.now()));
      continue;
    }
    let client: SmtpClient | null = null;
    let offered = false;
    try {
      client = await SmtpClient.connect({ host: ip, port: deps.port, servername: destination.host, heloName: deps.heloName, connectTimeoutMs: deps.connectTimeoutMs, commandTimeoutMs: deps.commandTimeoutMs });
      await client.ehlo();
      offered = client.has('STARTTLS');
      if (offered) await client.startTls({ ca: deps.extraCa });
      observations.push(observationOf(domain, destination.host, ip, client, offered, null, deps.clock.now()));
    } catch (error) {
      observations.push(observationOf(domain, destination.host, ip, client, offered, (error as Error).message, deps.clock.now()));
    } finally {
      await client?.quit();
    }
  }
  return observations;
}
