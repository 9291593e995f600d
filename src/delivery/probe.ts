import { MailError, type Clock } from '../kernel/index.ts';
import type { Resolver } from '../dns/index.ts';
import { matchDane, type LinkObservation } from '../linksec/index.ts';
import { SmtpClient, SmtpClientError } from '../smtp/client/index.ts';
import { certificateFacts, nameCheck, type CertificateFacts, type NameCheck } from './probe-certificates.ts';
import { resolveValidated } from './validated-mx.ts';
import type { DomainAssessment, HostAssessment, SecurityAssessor } from './security.ts';

export type { CertificateFacts, NameCheck } from './probe-certificates.ts';

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

/**
 * posttls-finger's verdicts: `Verified` (chain trusted and the MX name matches), `Trusted`
 * (chain trusted, name does not match), `Untrusted` (the chain does not verify).
 */
export type TlsVerdict = 'Verified' | 'Trusted' | 'Untrusted';

export interface TlsFacts {
  version: string;
  cipher: string;
  chain: CertificateFacts[];
  name: NameCheck;
  verdict: TlsVerdict;
  /** Why the chain did not verify (null when it did). */
  chainError: string | null;
}

/**
 * DANE for one MX: `dnssec-not-checked` without a validating resolver (nothing can be said),
 * `not-signed` when the MX records are not DNSSEC-signed (DANE does not apply), `no-tlsa`,
 * `unusable` (TLSA published, none usable), `matched` / `mismatch` against the chain,
 * `no-session` (TLSA published but no TLS session to check it on).
 */
export interface DaneFacts {
  status: 'dnssec-not-checked' | 'not-signed' | 'no-tlsa' | 'unusable' | 'matched' | 'mismatch' | 'no-session';
  detail: string | null;
  tlsa: string[];
}

export interface MxProbe {
  host: string;
  priority: number;
  port: number;
  addresses: string[];
  /**
   * Addresses that gave no SMTP session, each with why: `connect` (refused, timeout …) or
   * `greeting` (connected, but no 220 greeting: refused, silent, closed).
   */
  unreachable: { ip: string; stage: 'connect' | 'greeting'; error: string }[];
  /** The address an SMTP session was held with; null when none gave one. */
  ip: string | null;
  greeting: string | null;
  starttlsOffered: boolean;
  tls: TlsFacts | null;
  dane: DaneFacts;
  requireTlsAdvertised: boolean;
  /** Why this host must not be used, or what MTA-STS says of it. */
  policyNote: string | null;
  /** What went wrong once connected (greeting, EHLO, STARTTLS, handshake), one entry each. */
  errors: string[];
  /** What the session proved, for the link-security memory; null when no session was held. */
  observation: (LinkObservation & { daneDetail?: string; policyNote?: string }) | null;
}

export interface ProbeResult {
  /** A validating resolver is configured, so DNSSEC (and with it DANE) was checked. */
  dnssecChecked: boolean;
  mx: MxProbe[];
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

function daneFacts(dnssecChecked: boolean, mxSecure: boolean, host: HostAssessment | undefined): DaneFacts {
  const tlsa = host?.tlsaText ?? [];
  if (!dnssecChecked) return { status: 'dnssec-not-checked', detail: null, tlsa };
  if (!mxSecure) return { status: 'not-signed', detail: null, tlsa };
  if (host?.security.kind === 'dane-unusable') return { status: 'unusable', detail: 'TLSA records published, none usable: TLS required without authentication', tlsa };
  if (host?.security.kind !== 'dane') return { status: 'no-tlsa', detail: null, tlsa };
  return { status: 'no-session', detail: 'TLSA records published but no TLS session to check them on', tlsa };
}

/** The first address that greets with 220 (as a delivery would go on to the next); the others, with why. */
async function connectFirst(destination: { host: string; addresses: string[] }, deps: ProbeDeps, unreachable: MxProbe['unreachable']): Promise<{ client: SmtpClient; ip: string } | null> {
  for (const ip of destination.addresses) {
    try {
      const client = await SmtpClient.connect({ host: ip, port: deps.port, servername: destination.host, heloName: deps.heloName, connectTimeoutMs: deps.connectTimeoutMs, commandTimeoutMs: deps.commandTimeoutMs });
      return { client, ip };
    } catch (error) {
      const tcp = error instanceof SmtpClientError && error.unreachable;
      unreachable.push({ ip, stage: tcp ? 'connect' : 'greeting', error: tcp && error.cause instanceof Error ? error.cause.message : (error as Error).message });
    }
  }
  return null;
}

/**
 * `sealgate domain check`: connects to every MX of a domain (each address in turn until one
 * answers), asks for STARTTLS, checks the certificate against PKIX and the TLSA records, and
 * sends no mail.
 */
export async function probeDomain(domain: string, deps: ProbeDeps): Promise<ProbeResult> {
  const secure = deps.security?.secureResolver;
  const resolved = await resolveValidated(domain, deps.resolver, secure, { families: deps.ipFamilies });
  if (resolved.bogus) throw new MailError(451, '4.7.5', `${resolved.bogus}; DANE cannot be checked`, 'delivery');
  if (resolved.disagreement) throw new MailError(451, '4.4.3', `DNS answers for ${domain} disagree: ${resolved.disagreement}`, 'delivery');
  const destinations = resolved.destinations;
  const dnssec = secure ? { mxSecure: resolved.mxSecure, bogus: resolved.bogus } : undefined;
  const assessment = deps.security ? await deps.security.assess(domain, destinations.map((d) => d.host), dnssec) : undefined;
  const dnssecChecked = secure !== undefined;
  const mx: MxProbe[] = [];
  for (const destination of destinations) {
    const host = assessment?.hosts.get(destination.host);
    const mtaSts = assessment?.sts?.mode ?? null;
    const policyNote = host?.unusable?.reason ?? (host?.security.kind === 'sts' ? `listed in the MTA-STS policy (${host.security.mode})` : undefined);
    const probe: MxProbe = {
      host: destination.host,
      priority: destination.priority,
      port: deps.port,
      addresses: destination.addresses,
      unreachable: [],
      ip: null,
      greeting: null,
      starttlsOffered: false,
      tls: null,
      dane: daneFacts(dnssecChecked, resolved.mxSecure, host),
      requireTlsAdvertised: false,
      policyNote: policyNote ?? null,
      errors: destination.addresses.length ? [] : ['the MX host has no address'],
      observation: null,
    };
    mx.push(probe);
    const connected = await connectFirst(destination, deps, probe.unreachable);
    if (!connected) continue;
    probe.ip = connected.ip;
    const client = connected.client;
    probe.greeting = client.greeting?.raw ?? null;
    let error: string | null = null;
    try {
      await client.ehlo();
      probe.starttlsOffered = client.has('STARTTLS');
      const details = probe.starttlsOffered ? await client.startTls({ ca: deps.extraCa }) : null;
      if (details) {
        const name = nameCheck(details.peerChain[0], destination.host);
        probe.tls = {
          version: details.version,
          cipher: details.cipher,
          chain: certificateFacts(details.peerChain),
          name,
          verdict: details.chainError ? 'Untrusted' : name.matchedBy ? 'Verified' : 'Trusted',
          chainError: details.chainError ?? null,
        };
        if (host?.tlsa) {
          const dane = matchDane(details.peerChain, host.tlsa, [destination.host, domain]);
          probe.dane = { ...probe.dane, status: dane.matched ? 'matched' : 'mismatch', detail: dane.reason };
        }
      }
    } catch (caught) {
      error = (caught as Error).message;
      probe.errors.push(error);
    }
    probe.requireTlsAdvertised = Boolean(client.tls && client.has('REQUIRETLS'));
    const dane = probe.dane.status === 'matched' ? 'matched' : probe.dane.status === 'mismatch' || (host?.tlsa && error) ? 'mismatch' : null;
    probe.observation = {
      ...observationOf(domain, destination.host, connected.ip, client, probe.starttlsOffered, error, deps.clock.now()),
      mtaSts,
      dane,
      daneDetail: probe.dane.detail ?? undefined,
      policyNote,
    };
    await client.quit();
  }
  return { dnssecChecked, mx, assessment };
}
