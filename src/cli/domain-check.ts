import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.ts';
import { createSecurityAssessor, probeDomain, type MxProbe, type ProbeResult } from '../delivery/index.ts';
import { createSystemResolver } from '../dns/index.ts';
import { MailError, type Logger } from '../kernel/index.ts';
import { LinkPins, LinkSecurityMemory, parseTlsRptRecord, type LinkLevel } from '../linksec/index.ts';
import { atLeast } from '../policy/index.ts';
import type { Store } from '../store/index.ts';
import type { Vault } from '../vault/index.ts';
import { DkimKeys } from '../auth/index.ts';
import { dkimRecordStatus, formatDkimStatus, type DkimRecordStatus } from './domain-dkim.ts';

/*
 * `sealgate domain check DOMAIN`: what posttls-finger shows for each MX (reachability, the
 * certificate chain with fingerprints, the name checked and what matched it, the verification
 * verdict), plus what the domain publishes (DNSSEC, DANE, MTA-STS, TLS-RPT) and the level each
 * session proved, which goes into the link-security memory as a delivery attempt's would.
 */

/** sysexits(3): what a script can tell apart without reading the text. */
export const CHECK_EXIT = {
  /** Every MX gave an SMTP session (whatever TLS it offers: the text says). */
  ok: 0,
  /** The domain does not exist, has a null MX or no address (EX_NOHOST). */
  noHost: 68,
  /** No MX could be reached, or none greeted (EX_UNAVAILABLE). */
  unavailable: 69,
  /** Some MX could not be reached, or DNS failed for now (EX_TEMPFAIL): mail may still move; check again. */
  tempFail: 75,
} as const;

const DNSSEC_NOT_CHECKED = 'DNSSEC not checked (no validating resolver configured: delivery.dnssecResolvers)';

export interface CheckedMx extends Omit<MxProbe, 'observation'> {
  reached: boolean;
  /** The level this session proved; null when the MX was not reached. */
  level: LinkLevel | null;
  /** What this check wrote into the link-security memory; `kept`: a stronger record that still holds was left instead. Null: not reached, nothing written. */
  recorded: { level: LinkLevel; expiresAt: number; kept: boolean } | null;
}

export interface CheckReport {
  domain: string;
  mxCount: number;
  reachedCount: number;
  /** The weakest level over the MX hosts reached; null when none was. */
  level: LinkLevel | null;
  dnssec: { checked: boolean; mxSecure: boolean; bogus: string | null };
  mtaSts: object | null;
  mtaStsError: string | null;
  tlsRpt: string[] | null;
  pin: LinkLevel | null;
  /** Our DKIM keys for the domain and whether DNS publishes each (empty: the domain does not sign). */
  dkim?: DkimRecordStatus[];
  mx: CheckedMx[];
  exitCode: number;
}

function weakestOf(levels: LinkLevel[]): LinkLevel {
  return levels.reduce<LinkLevel>((weak, level) => (atLeast(level, weak) ? weak : level), 'dane');
}

/** Times in the CLI are UTC, to the second: what an admin pastes into a ticket. */
export function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function exitCodeOf(mxCount: number, reachedCount: number): number {
  if (reachedCount === 0) return CHECK_EXIT.unavailable;
  return reachedCount < mxCount ? CHECK_EXIT.tempFail : CHECK_EXIT.ok;
}

function daneLine(mx: CheckedMx): string {
  const d = mx.dane;
  switch (d.status) {
    case 'dnssec-not-checked':
      return `DANE: not checked: ${DNSSEC_NOT_CHECKED}`;
    case 'not-signed':
      return 'DANE: does not apply (MX records not DNSSEC-signed)';
    case 'no-tlsa':
      return `DANE: no DNSSEC-signed TLSA records at _25._tcp.${mx.host}`;
    case 'matched':
      return `DANE matched: ${d.detail ?? ''}`;
    case 'mismatch':
      return `DANE MISMATCH: ${d.detail ?? 'no TLSA record matched'}`;
    default:
      return `DANE: ${d.detail ?? d.status}`;
  }
}

function tlsLines(mx: CheckedMx): string[] {
  if (!mx.tls) return [mx.starttlsOffered ? 'STARTTLS offered; no TLS session (see the error below)' : 'no STARTTLS offered: mail to this MX goes in plain text'];
  const t = mx.tls;
  const lines = [`STARTTLS offered; ${t.version} ${t.cipher}`, 'certificate chain (as presented, leaf first):'];
  t.chain.forEach((c, depth) => {
    lines.push(
      `  ${depth} subject: ${c.subject}`,
      `    issuer:  ${c.issuer}`,
      `    valid:   ${c.validFrom ? `${utc(c.validFrom)} to ${utc(c.validTo)}` : 'unknown'}`,
      `    SHA-256 fingerprint:      ${c.sha256}`,
      `    SPKI SHA-256 fingerprint: ${c.spkiSha256 ?? 'unknown (key not exportable)'}`,
    );
  });
  const names = t.name.certificateNames.length ? t.name.certificateNames.join(', ') : 'no DNS name';
  lines.push(t.name.matchedBy ? `name: ${t.name.checked} matched by ${t.name.matchedBy}` : `name: ${t.name.checked} NOT matched (the certificate names ${names})`);
  const why = t.verdict === 'Verified' ? 'chain trusted, name matches' : t.verdict === 'Trusted' ? `chain trusted, but not issued for ${t.name.checked}` : `chain not trusted: ${t.chainError ?? 'unknown'}`;
  lines.push(`verification: ${t.verdict} TLS connection (${why})`);
  return lines;
}

function unreachableLine(mx: CheckedMx, u: CheckedMx['unreachable'][number]): string {
  return u.stage === 'connect' ? `[${u.ip}]:${mx.port} unreachable: ${u.error}` : `[${u.ip}]:${mx.port} connected, but no SMTP session: ${u.error}`;
}

export function formatMx(mx: CheckedMx): string[] {
  const head = `  ${mx.host} (priority ${mx.priority})`;
  const indent = (line: string) => `      ${line}`;
  if (!mx.reached) {
    if (mx.addresses.length === 0) return [head, indent('unreachable: the MX host has no address')];
    return [head, ...mx.unreachable.map((u) => indent(unreachableLine(mx, u)))];
  }
  const lines = [`${head} [${mx.ip}]:${mx.port}  level ${mx.level}`];
  for (const u of mx.unreachable) lines.push(indent(unreachableLine(mx, u)));
  if (mx.greeting) lines.push(indent(`greeting: ${mx.greeting}`));
  if (mx.greeting) lines.push(...tlsLines(mx).map(indent));
  lines.push(indent(daneLine(mx)));
  if (mx.policyNote) lines.push(indent(`MTA-STS: ${mx.policyNote}`));
  if (mx.greeting) lines.push(indent(`REQUIRETLS ${mx.requireTlsAdvertised ? 'advertised' : 'not advertised'}`));
  for (const error of mx.errors) lines.push(indent(`error: ${error}`));
  if (mx.recorded) {
    lines.push(
      indent(
        mx.recorded.kept
          ? 'NOT recorded: a stronger level proved before still holds and delivery stays held to it (`domain forget` lowers it)'
          : `recorded: level ${mx.recorded.level}, holds until ${utc(mx.recorded.expiresAt)}`,
      ),
    );
  }
  return lines;
}

export function formatCheck(r: CheckReport): string {
  const unreachable = r.mxCount - r.reachedCount;
  const head =
    r.reachedCount === 0
      ? `${r.domain}: ${r.mxCount} MX host(s), none could be reached`
      : unreachable > 0
        ? `${r.domain}: ${r.mxCount} MX host(s), ${unreachable} unreachable; the ${r.reachedCount} reached reach at least level ${r.level}`
        : `${r.domain}: ${r.mxCount} MX host(s), all reached; every MX reaches at least level ${r.level}`;
  const a = r.dnssec;
  const dnssec = !a.checked ? DNSSEC_NOT_CHECKED : a.bogus ? `BOGUS: ${a.bogus}` : a.mxSecure ? 'MX records signed and validated' : 'MX records not signed (DANE does not apply)';
  const sts = r.mtaSts as { mode: string; id: string; mx: string[]; maxAge: number } | null;
  return [
    head,
    `  DNSSEC: ${dnssec}`,
    `  MTA-STS: ${sts ? `${sts.mode} (id ${sts.id}, mx ${sts.mx.join(' ')}, max_age ${sts.maxAge} s)` : r.mtaStsError ? `none usable: ${r.mtaStsError}` : 'no policy'}`,
    `  TLS-RPT: ${r.tlsRpt === null ? 'lookup failed' : r.tlsRpt.length ? r.tlsRpt.join(', ') : 'no report address'}`,
    `  pinned minimum: ${r.pin ?? 'none'}`,
    ...(r.dkim ? formatDkimStatus(r.dkim) : []),
    ...r.mx.flatMap(formatMx),
  ].join('\n');
}

/** The report as JSON: the same facts, times as ISO 8601 (for programs). */
export function checkJson(r: CheckReport): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  return JSON.stringify(
    {
      ...r,
      mx: r.mx.map((mx) => ({
        ...mx,
        tls: mx.tls && { ...mx.tls, chain: mx.tls.chain.map((c) => ({ ...c, validFrom: iso(c.validFrom), validTo: iso(c.validTo) })) },
        recorded: mx.recorded && { ...mx.recorded, expiresAt: iso(mx.recorded.expiresAt) },
      })),
    },
    null,
    2,
  );
}

function exitOfDnsError(error: MailError): number {
  return error.code >= 500 ? CHECK_EXIT.noHost : CHECK_EXIT.tempFail;
}

/** Runs the probe, records what each session proved, prints the report; returns the exit code. */
export async function checkCommand(config: Config, store: Store, logger: Logger, domain: string, json: boolean, out: (text: string) => void, vault?: Vault): Promise<number> {
  const name = domain.toLowerCase();
  const memory = new LinkSecurityMemory(store);
  const resolver = createSystemResolver({ servers: config.delivery.dnsServers.length ? config.delivery.dnsServers : undefined });
  // Only a domain we sign for has DKIM keys; for any other the report says nothing of DKIM.
  const ownKeys = vault ? await new DkimKeys(store, vault).current(name) : [];
  const dkim = ownKeys.length ? await dkimRecordStatus(ownKeys, resolver) : undefined;
  const extraCa = config.delivery.extraCaFiles.map((file) => readFileSync(file));
  let probe: ProbeResult;
  try {
    probe = await probeDomain(name, {
      resolver,
      heloName: config.hostname,
      port: config.delivery.port,
      extraCa,
      connectTimeoutMs: Math.min(config.delivery.connectTimeoutMs, 10_000),
      commandTimeoutMs: Math.min(config.delivery.commandTimeoutMs, 30_000),
      ipFamilies: config.delivery.ipFamilies,
      clock: { now: () => Date.now() },
      security: createSecurityAssessor(config, store, resolver, extraCa, logger),
    });
  } catch (error) {
    if (error instanceof MailError) {
      out(json ? JSON.stringify({ domain: name, error: error.reply, dkim, exitCode: exitOfDnsError(error) }) : [`${name}: ${error.reply}`, ...(dkim ? formatDkimStatus(dkim) : [])].join('\n'));
      return exitOfDnsError(error);
    }
    throw error;
  }
  const rua = await resolver.resolveTxt(`_smtp._tls.${name}`).then((txt) => parseTlsRptRecord(txt)?.mailto ?? [], (error: { kind?: string }) => (error.kind === 'transient' ? null : []));
  const pin = (await new LinkPins(store).list()).find((p) => p.domain === name)?.minLevel ?? null;
  // An observation holds as long as what it rests on: the MTA-STS policy, else a day.
  const holdMs = probe.assessment?.sts ? Math.max(60_000, probe.assessment.sts.expiresAt - Date.now()) : undefined;
  const mx: CheckedMx[] = [];
  for (const { observation, ...facts } of probe.mx) {
    // No session, no evidence: an unreachable MX leaves the memory as it was.
    const record = observation ? await memory.record(observation, holdMs) : null;
    mx.push({ ...facts, reached: observation !== null, level: record ? record.level : null, recorded: record && { level: record.level, expiresAt: record.expiresAt, kept: record.kept } });
  }
  const reached = mx.filter((m) => m.reached);
  const a = probe.assessment;
  const report: CheckReport = {
    domain: name,
    mxCount: mx.length,
    reachedCount: reached.length,
    level: reached.length ? weakestOf(reached.map((m) => m.level!)) : null,
    dnssec: { checked: probe.dnssecChecked, mxSecure: a?.mxSecure ?? false, bogus: a?.bogus ?? null },
    mtaSts: a?.sts ?? null,
    mtaStsError: a?.stsError ?? null,
    tlsRpt: rua,
    pin,
    dkim,
    mx,
    exitCode: exitCodeOf(mx.length, reached.length),
  };
  out(json ? checkJson(report) : formatCheck(report));
  return report.exitCode;
}
