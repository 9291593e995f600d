import net from 'node:net';
import { MailError, type Clock, type DeliveryReceipt, type LinkRequirement, type Logger, type TlsPolicyMode } from '../kernel/index.ts';
import { DnsError, type Resolver } from '../dns/index.ts';
import { matchDane, type LinkObservation, type TlsAttemptResult } from '../linksec/index.ts';
import { SmtpClient, SmtpClientError, xtext, type SmtpReply, type TlsDetails } from '../smtp/index.ts';
import { canonicalDomain } from '../mail/index.ts';
import { resolveDestinations } from './mx.ts';
import { resolveValidated } from './validated-mx.ts';
import { observationOf } from './probe.ts';
import { atLeast, heldLevel, hostDemand, requireTlsRefusal, strongest, type HostDemand, type ProvenLink } from '../policy/index.ts';
import type { DomainAssessment, HostAssessment, SecurityAssessor } from './security.ts';
import type { ConnectionPool } from './pool.ts';
import type { DomainJob, RecipientResult } from './worker.ts';

export interface RemoteDeps {
  resolver: Resolver;
  heloName: string;
  /** Destination port for MX hosts: 25, except in tests. */
  port: number;
  tlsPolicyFor(domain: string, job: DomainJob): TlsPolicyMode;
  extraCa: (string | Buffer)[];
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  ipFamilies?: (4 | 6)[];
  logger: Logger;
  clock: Clock;
  pool?: ConnectionPool;
  /** Told what each new session showed (the link-security memory records it). */
  observe?: (observation: LinkObservation) => void;
  /** What the domain's MX hosts proved and still holds (the link-security memory), read before each session. */
  recall?: (domain: string) => Promise<ProvenLink[]>;
  /** DANE and MTA-STS; without it only the admin's TLS policy applies. */
  security?: SecurityAssessor;
  /** An admin pin: the weakest link a destination domain may be reached over. */
  pinFor?: (domain: string) => LinkRequirement | undefined;
  /** TLS-RPT: the result of each session with a host under a published policy. */
  report?: (result: TlsSessionResult) => void;
}

/** One session's outcome for TLS-RPT; the counter adds the time. */
export type TlsSessionResult = Omit<TlsAttemptResult, 'at'>;

type Recipient = DomainJob['recipients'][number];

interface HostAttempt {
  host: string;
  ip: string;
  port: number;
}

/** Why a host was not used; a policy skip never becomes a plaintext attempt. */
class PolicySkip extends Error {
  readonly requireTls: boolean;
  readonly reached: LinkRequirement;
  constructor(message: string, reached: LinkRequirement, requireTls = false) {
    super(message);
    this.reached = reached;
    this.requireTls = requireTls;
  }
}

/** What a session must show, and what the destination publishes for it. */
interface HostPlan {
  demand: HostDemand;
  assessment: HostAssessment;
  domain?: DomainAssessment;
}

const PUBLISHED_LEVEL: Record<HostAssessment['security']['kind'], LinkRequirement | null> = { dane: 'dane', 'dane-unusable': 'tls', sts: 'tls-verified', none: null };

function certFailure(verifyError: string | undefined): TlsSessionResult['failure'] {
  if (!verifyError) return 'validation-failure';
  if (/expired|not yet valid/i.test(verifyError)) return 'certificate-expired';
  if (/host|altname|name/i.test(verifyError)) return 'certificate-host-mismatch';
  return 'certificate-not-trusted';
}

function reportFor(plan: HostPlan, job: DomainJob, attempt: HostAttempt, outcome: Pick<TlsSessionResult, 'success' | 'failure' | 'failureDetail'>): TlsSessionResult | null {
  const security = plan.assessment.security;
  const base = { policyDomain: job.domain, mxHost: attempt.host, receivingIp: attempt.ip, ...outcome };
  if (security.kind === 'dane') return { ...base, policyType: 'tlsa', policyString: plan.assessment.tlsaText };
  if (security.kind === 'sts' && plan.domain?.sts) {
    const sts = plan.domain.sts;
    return { ...base, policyType: 'sts', policyString: ['version: STSv1', `mode: ${sts.mode}`, ...sts.mx.map((mx) => `mx: ${mx}`), `max_age: ${sts.maxAge}`] };
  }
  return null;
}

function replyLine(reply: SmtpReply): string {
  return reply.raw;
}

function statusFrom(reply: SmtpReply): string | undefined {
  return reply.enhanced;
}

function receiptFor(attempt: HostAttempt | null, tls: TlsDetails | null, recipient: Recipient, reply: string, outcome: DeliveryReceipt['outcome'], now: number): DeliveryReceipt {
  return {
    at: now,
    recipient: recipient.address,
    mxHost: attempt?.host ?? null,
    ip: attempt?.ip ?? null,
    port: attempt?.port ?? null,
    tlsVersion: tls?.version ?? null,
    cipher: tls?.cipher ?? null,
    certSubject: tls?.certSubject ?? null,
    certVerified: tls?.verified ?? false,
    reply,
    outcome,
  };
}

function mailParams(job: DomainJob, client: SmtpClient): string[] {
  const params: string[] = [];
  if (client.has('SIZE')) params.push(`SIZE=${job.size}`);
  if (client.has('8BITMIME') && job.bodyType === '8BITMIME') params.push('BODY=8BITMIME');
  if (job.smtpUtf8 && client.has('SMTPUTF8')) params.push('SMTPUTF8');
  if (job.requireTls && client.has('REQUIRETLS')) params.push('REQUIRETLS');
  if (client.has('DSN')) {
    if (job.dsnRet) params.push(`RET=${job.dsnRet}`);
    if (job.dsnEnvid) params.push(`ENVID=${xtext(job.dsnEnvid)}`);
  }
  return params;
}

function rcptParams(recipient: Recipient, client: SmtpClient): string[] {
  if (!client.has('DSN')) return [];
  const params: string[] = [];
  if (recipient.notify?.length) params.push(`NOTIFY=${recipient.notify.join(',')}`);
  if (recipient.orcpt) params.push(`ORCPT=${recipient.orcpt.includes(';') ? `${recipient.orcpt.split(';')[0]};${xtext(recipient.orcpt.slice(recipient.orcpt.indexOf(';') + 1))}` : `rfc822;${xtext(recipient.orcpt)}`}`);
  return params;
}

/**
 * Opens (or reuses) a session with one MX address and brings it to the level the plan
 * demands. Throws PolicySkip when the host cannot meet it, SmtpClientError otherwise.
 */
async function openSession(attempt: HostAttempt, plan: HostPlan, job: DomainJob, deps: RemoteDeps, forcePlain: boolean): Promise<{ client: SmtpClient; key: string; reached: LinkRequirement }> {
  const key = `${attempt.ip}|${attempt.port}|${attempt.host}|${plan.demand.minimum}|${job.requireTls ? 'requiretls' : ''}|${forcePlain ? 'plain' : 'tls'}`;
  const pooled = deps.pool?.take(key);
  if (pooled) return { client: pooled, key, reached: plan.demand.minimum };
  const client = await SmtpClient.connect({ host: attempt.ip, port: attempt.port, servername: attempt.host, heloName: deps.heloName, connectTimeoutMs: deps.connectTimeoutMs, commandTimeoutMs: deps.commandTimeoutMs });
  const report = (outcome: Pick<TlsSessionResult, 'success' | 'failure' | 'failureDetail'>) => {
    const result = reportFor(plan, job, attempt, outcome);
    if (result) deps.report?.(result);
  };
  const mtaSts = plan.domain?.sts?.mode ?? null;
  // A session the memory refuses as a downgrade proves nothing and is not recorded: stored as
  // the host's own (weaker) level it would hold a never-seen MX name to it on the next retry.
  const observe = (observation: LinkObservation, level: LinkRequirement) => {
    if (plan.demand.held && !atLeast(level, plan.demand.minimum)) return;
    deps.observe?.(observation);
  };
  let offered = false;
  let reached: LinkRequirement = 'none';
  try {
    await client.ehlo();
    offered = client.has('STARTTLS');
    let detail = `${attempt.host} does not offer STARTTLS`;
    let failure: TlsSessionResult['failure'] = 'starttls-not-supported';
    if (!forcePlain && offered) {
      const details = await client.startTls({ ca: deps.extraCa });
      // DANE-EE and DANE-TA decide alone; PKIX is not consulted for such a host (RFC 7672 §3).
      const dane = plan.assessment.tlsa ? matchDane(details.peerChain, plan.assessment.tlsa, [attempt.host, job.domain]) : null;
      reached = dane?.matched ? 'dane' : details.verified ? 'tls-verified' : 'tls';
      if (dane && !dane.matched) [detail, failure] = [`DANE: ${dane.reason}`, 'validation-failure'];
      else [detail, failure] = [`certificate of ${attempt.host}: ${details.verifyError ?? 'not verified'}`, certFailure(details.verifyError)];
      observe({ ...observationOf(job.domain, attempt.host, attempt.ip, client, true, null, deps.clock.now()), mtaSts, dane: dane ? (dane.matched ? 'matched' : 'mismatch') : null }, reached);
    } else if (!offered) {
      observe({ ...observationOf(job.domain, attempt.host, attempt.ip, client, false, null, deps.clock.now()), mtaSts, dane: null }, 'none');
    }
    // TLS-RPT judges the session against what the destination publishes, whatever we demanded
    // (MTA-STS testing and TLS-Required: No still count as failures there).
    const published = PUBLISHED_LEVEL[plan.assessment.security.kind];
    if (published) report(atLeast(reached, published) ? { success: true } : { success: false, failure, failureDetail: detail });
    if (!atLeast(reached, plan.demand.minimum)) {
      throw new PolicySkip(`${attempt.host} [${attempt.ip}] reached link level '${reached}', but ${plan.demand.because} requires '${plan.demand.minimum}' (${detail})`, reached);
    }
    if (job.requireTls) {
      const refusal = requireTlsRefusal(plan.assessment.security, reached, client.has('REQUIRETLS'));
      if (refusal) throw new PolicySkip(`${attempt.host} cannot carry a REQUIRETLS message: ${refusal}`, reached, true);
    }
  } catch (error) {
    if (offered && !client.tls && !(error instanceof PolicySkip)) {
      observe({ ...observationOf(job.domain, attempt.host, attempt.ip, client, true, (error as Error).message, deps.clock.now()), mtaSts, dane: null }, 'none');
      if (plan.assessment.security.kind !== 'none') report({ success: false, failure: 'validation-failure', failureDetail: (error as Error).message });
    }
    await client.quit();
    throw error;
  }
  return { client, key, reached };
}

interface TransactionOutcome {
  /** Final results for recipients this host settled (delivered, failed, or 4xx on RCPT). */
  settled: RecipientResult[];
  /** Transaction-level temporary failure: try the remaining recipients at the next host. */
  retryElsewhere?: string;
}

async function transact(client: SmtpClient, attempt: HostAttempt, job: DomainJob, pending: Recipient[], deps: RemoteDeps): Promise<TransactionOutcome> {
  const tls = client.tls;
  const result = (r: Recipient, outcome: RecipientResult['outcome'], reply: string, enhanced?: string): RecipientResult => ({
    recipientId: r.id,
    outcome,
    reply,
    enhanced,
    receipt: receiptFor(attempt, tls, r, reply, outcome, deps.clock.now()),
  });
  const limit = Number(client.capabilities.get('SIZE'));
  if (limit > 0 && job.size > limit) {
    const reply = `552 5.3.4 Message of ${job.size} bytes exceeds the ${limit}-byte limit of ${attempt.host}`;
    return { settled: pending.map((r) => result(r, 'failed', reply, '5.3.4')) };
  }
  const { mail, rcpts } = await client.envelope(job.mailFrom, mailParams(job, client), pending.map((r) => ({ address: r.address, params: rcptParams(r, client) })));
  if (mail.code >= 500) return { settled: pending.map((r) => result(r, 'failed', replyLine(mail), statusFrom(mail))) };
  if (mail.code >= 400) {
    await client.rset();
    return { settled: [], retryElsewhere: replyLine(mail) };
  }
  const settled: RecipientResult[] = [];
  const accepted: Recipient[] = [];
  pending.forEach((r, i) => {
    const reply = rcpts[i];
    if (reply.code < 300) accepted.push(r);
    else settled.push(result(r, reply.code >= 500 ? 'failed' : 'deferred', replyLine(reply), statusFrom(reply)));
  });
  if (accepted.length === 0) {
    await client.rset();
    return { settled };
  }
  const final = await client.data(await job.openBody());
  const outcome: RecipientResult['outcome'] = final.code < 300 ? 'delivered' : final.code >= 500 ? 'failed' : 'deferred';
  for (const r of accepted) settled.push(result(r, outcome, replyLine(final), statusFrom(final)));
  return { settled };
}

interface Routed {
  hosts: { host: string; addresses: string[]; port: number }[];
  /** What validated-mx.ts learnt from the validating resolver (MX routes with one configured). */
  dnssec?: { mxSecure: boolean; bogus?: string };
  disagreement?: string;
}

async function destinationsFor(job: DomainJob, deps: RemoteDeps): Promise<Routed> {
  if (job.route.kind === 'smarthost') {
    const { host, port } = job.route;
    if (net.isIP(host)) return { hosts: [{ host, addresses: [host], port }] };
    const [d] = await resolveDestinations(host, { ...deps.resolver, resolveMx: async () => [] }, { families: deps.ipFamilies });
    return { hosts: [{ host, addresses: d.addresses, port }] };
  }
  const secure = deps.security?.secureResolver;
  const resolved = await resolveValidated(job.domain, deps.resolver, secure, { families: deps.ipFamilies });
  return {
    hosts: resolved.destinations.map((d) => ({ host: d.host, addresses: d.addresses, port: deps.port })),
    dnssec: secure ? { mxSecure: resolved.mxSecure, bogus: resolved.bogus } : undefined,
    disagreement: resolved.disagreement,
  };
}

/**
 * One SMTP transaction for the recipients of one message at one domain. Every MX (and every
 * address of it) is tried before deferring; a TLS policy failure skips a host and is never
 * answered with plaintext (except the opportunistic fallback after a failed handshake).
 */
export async function deliverToDomain(queued: DomainJob, deps: RemoteDeps): Promise<{ results: RecipientResult[] }> {
  // One destination, one name: the address check accepts U-labels and fullwidth letters that
  // IDNA maps to the same A-labels, and DNS answers for every spelling alike, so the memory,
  // the pins, the admin's TLS policy and DANE are all keyed by the A-label form (RFC 5890).
  const job: DomainJob = { ...queued, domain: canonicalDomain(queued.domain) };
  const now = () => deps.clock.now();
  const fail = (recipients: Recipient[], outcome: RecipientResult['outcome'], reply: string, enhanced?: string, attempt: HostAttempt | null = null): RecipientResult[] =>
    recipients.map((r) => ({ recipientId: r.id, outcome, reply, enhanced, receipt: receiptFor(attempt, null, r, reply, outcome, now()) }));

  let hosts;
  let assessment: DomainAssessment | undefined;
  try {
    const routed = await destinationsFor(job, deps);
    if (routed.disagreement) {
      // A spoofed answer on the plain path (or a resolver out of date): never follow it.
      deps.logger.error({ domain: job.domain, alert: true, detail: routed.disagreement }, 'MX answers disagree between the plain and the validating resolver; deferring');
      return { results: fail(job.recipients, 'deferred', `451 4.4.3 DNS answers for ${job.domain} disagree: ${routed.disagreement}; will retry`.slice(0, 900), '4.4.3') };
    }
    hosts = routed.hosts;
    // Published policies (DANE, MTA-STS) govern MX delivery; a smarthost is the admin's choice.
    if (job.route.kind === 'mx' && deps.security) assessment = await deps.security.assess(job.domain, hosts.map((h) => h.host), routed.dnssec);
  } catch (error) {
    if (error instanceof MailError) return { results: fail(job.recipients, error.temporary ? 'deferred' : 'failed', error.reply, error.enhanced) };
    if (error instanceof DnsError) return { results: fail(job.recipients, 'deferred', `451 4.4.3 DNS lookup for ${job.domain} failed (${error.code}); will retry`, '4.4.3') };
    throw error;
  }
  if (assessment?.bogus) {
    deps.report?.({ policyDomain: job.domain, policyType: 'tlsa', mxHost: hosts[0]?.host ?? job.domain, success: false, failure: 'dnssec-invalid', failureDetail: assessment.bogus });
    return { results: fail(job.recipients, 'deferred', `451 4.7.5 ${assessment.bogus}; will retry`, '4.7.5') };
  }

  // Read before the session (chasquid domaininfo): what the destination proved holds it there.
  // A smarthost is the admin's choice, as for published policies.
  const proven = job.route.kind === 'mx' && deps.recall ? await deps.recall(job.domain) : [];
  const required = strongest(job.requiredLevel, deps.pinFor?.(job.domain));
  const message = {
    localPolicy: deps.tlsPolicyFor(job.domain, job),
    required: required === 'none' ? undefined : required,
    // RFC 8689 §5: the header is ignored when the message also carries REQUIRETLS.
    tlsOptional: job.tlsOptional === true && !job.requireTls,
  };
  const results: RecipientResult[] = [];
  let pending = [...job.recipients];
  const problems: string[] = [];
  let policyOnly = true;
  let requireTlsOnly = true;
  let best: LinkRequirement | null = null;
  let lastAttempt: HostAttempt | null = null;
  for (const destination of hosts) {
    const hostAssessment: HostAssessment = assessment?.hosts.get(destination.host) ?? { security: { kind: 'none' } };
    if (hostAssessment.unusable) {
      problems.push(hostAssessment.unusable.reason);
      requireTlsOnly = false;
      if (hostAssessment.unusable.temporary) policyOnly = false;
      continue;
    }
    const plan: HostPlan = { demand: hostDemand(hostAssessment.security, message, heldLevel(destination.host, proven, now())), assessment: hostAssessment, domain: assessment };
    for (const ip of destination.addresses) {
      if (pending.length === 0) break;
      const attempt: HostAttempt = { host: destination.host, ip, port: destination.port };
      lastAttempt = attempt;
      for (const forcePlain of [false, true]) {
        let session: { client: SmtpClient; key: string } | null = null;
        try {
          session = await openSession(attempt, plan, job, deps, forcePlain);
          const outcome = await transact(session.client, attempt, job, pending, deps);
          results.push(...outcome.settled);
          const settledIds = new Set(outcome.settled.map((r) => r.recipientId));
          pending = pending.filter((r) => !settledIds.has(r.id));
          if (outcome.retryElsewhere) {
            policyOnly = false;
            requireTlsOnly = false;
            problems.push(`${attempt.host} [${ip}]: ${outcome.retryElsewhere}`);
          }
          // A session that just answered 4xx is not kept: the next try should meet a fresh one.
          const reusable = !outcome.retryElsewhere && outcome.settled.every((r) => r.outcome !== 'deferred');
          if (deps.pool && reusable && session.client.alive && (await session.client.rset())) deps.pool.give(session.key, session.client);
          else await session.client.quit();
          break;
        } catch (error) {
          if (session) session.client.close();
          if (error instanceof PolicySkip) {
            problems.push(error.message);
            if (!error.requireTls) requireTlsOnly = false;
            if (best === null || !atLeast(best, error.reached)) best = error.reached;
            if (plan.demand.held) {
              // A destination that proved more now offers less: a stripper, or a broken server.
              deps.logger.error({ domain: job.domain, host: attempt.host, ip, alert: true, held: plan.demand.minimum, reached: error.reached, reason: error.message }, 'link-security downgrade refused; deferring');
            } else {
              deps.logger.warn({ domain: job.domain, host: attempt.host, ip, required: plan.demand.minimum, reached: error.reached, reason: error.message }, 'host skipped by link policy');
            }
            break;
          }
          policyOnly = false;
          requireTlsOnly = false;
          const text = (error as Error).message;
          problems.push(`${attempt.host} [${ip}]: ${text}`);
          // Only where plaintext is allowed may a failed handshake be retried without TLS:
          // that is what "opportunistic" means, and the receipt will say no TLS was used. A
          // destination that proved TLS is held to it by the memory, so its minimum is not none.
          const handshakeFailed = /TLS handshake/.test(text);
          if (!(handshakeFailed && plan.demand.minimum === 'none' && !forcePlain)) break;
          deps.logger.warn({ domain: job.domain, host: attempt.host, ip }, 'TLS handshake failed; retrying without TLS (opportunistic policy)');
        }
      }
    }
  }
  const detail = problems.join('; ') || 'no usable MX host';
  if (pending.length && policyOnly && problems.length && job.requireTls && requireTlsOnly) {
    // RFC 8689 §4.2.1: no MX can carry it as REQUIRETLS demands; retrying will not change that.
    const reply = `550 5.7.30 REQUIRETLS support required: no MX of ${job.domain} offers an authenticated (DANE or MTA-STS) link that advertises REQUIRETLS: ${detail}`.slice(0, 900);
    results.push(...fail(pending, 'failed', reply, '5.7.30', lastAttempt));
    pending = [];
  }
  if (pending.length && policyOnly && problems.length && message.required && !atLeast(best ?? 'none', message.required)) {
    // Every MX answered and none can carry the link the sender asked for: waiting will not
    // change that, so the sender hears at once (never a silent downgrade). A host that met the
    // sender's level but not the destination's own (DANE, MTA-STS, memory) defers instead.
    const reply = `550 5.7.10 Link level '${message.required}' was required for ${job.domain}; the best found was '${best ?? 'none'}': ${detail}`.slice(0, 900);
    results.push(...fail(pending, 'failed', reply, '5.7.10', lastAttempt));
    pending = [];
  }
  if (pending.length) {
    const reply = policyOnly && problems.length
      ? `451 4.7.5 No MX of ${job.domain} met the link policy: ${detail}`
      : `451 4.4.1 No MX of ${job.domain} accepted the message: ${detail}`;
    results.push(...fail(pending, 'deferred', reply.slice(0, 900), policyOnly ? '4.7.5' : '4.4.1', lastAttempt));
  }
  return { results };
}
