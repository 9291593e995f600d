/**
 * One SMTP session with one MX address, brought to the link level its plan demands, and one
 * transaction in it (remote.ts decides which hosts to try and what each must show).
 */
import { createHash } from 'node:crypto';
import type { Clock, DeliveryReceipt, LinkRequirement } from '../kernel/index.ts';
import { matchDane, type LinkObservation, type TlsAttemptResult } from '../linksec/index.ts';
import { SmtpClient, xtext, type SmtpReply, type TlsDetails } from '../smtp/client/index.ts';
import { observationOf } from './probe.ts';
import { atLeast, requireTlsRefusal, type HostDemand } from '../policy/index.ts';
import type { DomainAssessment, HostAssessment } from './security.ts';
import type { ConnectionPool } from './pool.ts';
import type { DomainJob, RecipientResult } from './worker.ts';

/** One session's outcome for TLS-RPT; the counter adds the time. */
export type TlsSessionResult = Omit<TlsAttemptResult, 'at'>;

/** What a session needs of remote delivery's dependencies. */
export interface SessionDeps {
  heloName: string;
  extraCa: (string | Buffer)[];
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  clock: Clock;
  pool?: ConnectionPool;
  /** Told what each new session showed (the link-security memory records it). */
  observe?: (observation: LinkObservation) => void;
  /** TLS-RPT: the result of each session with a host under a published policy. */
  report?: (result: TlsSessionResult) => void;
}

export type Recipient = DomainJob['recipients'][number];

export interface HostAttempt {
  host: string;
  ip: string;
  port: number;
}

/** Why a host was not used; a policy skip never becomes a plaintext attempt. */
export class PolicySkip extends Error {
  readonly requireTls: boolean;
  readonly reached: LinkRequirement;
  constructor(message: string, reached: LinkRequirement, requireTls = false) {
    super(message);
    this.reached = reached;
    this.requireTls = requireTls;
  }
}

/** What a session must show, and what the destination publishes for it. */
export interface HostPlan {
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

/** SHA-256 of the server's certificate as sent (DER), the fingerprint `openssl x509 -fingerprint -sha256` shows. */
function certFingerprint(tls: TlsDetails | null): string | null {
  const leaf = tls?.peerChain[0];
  return leaf ? createHash('sha256').update(leaf).digest('hex') : null;
}

export function receiptFor(attempt: HostAttempt | null, tls: TlsDetails | null, recipient: Recipient, reply: string, outcome: DeliveryReceipt['outcome'], now: number, messageSha256: string | null = null): DeliveryReceipt {
  return {
    at: now,
    recipient: recipient.address,
    mxHost: attempt?.host ?? null,
    ip: attempt?.ip ?? null,
    port: attempt?.port ?? null,
    tlsVersion: tls?.version ?? null,
    cipher: tls?.cipher ?? null,
    certSubject: tls?.certSubject ?? null,
    certFingerprint: certFingerprint(tls),
    certVerified: tls?.verified ?? false,
    messageSha256,
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
/** What each open session reached, so a pooled one reports its own level, not the minimum it was kept for. */
const REACHED = new WeakMap<SmtpClient, LinkRequirement>();

export async function openSession(attempt: HostAttempt, plan: HostPlan, job: DomainJob, deps: SessionDeps, forcePlain: boolean): Promise<{ client: SmtpClient; key: string; reached: LinkRequirement }> {
  const key = `${attempt.ip}|${attempt.port}|${attempt.host}|${plan.demand.minimum}|${job.requireTls ? 'requiretls' : ''}|${forcePlain ? 'plain' : 'tls'}`;
  const pooled = deps.pool?.take(key);
  if (pooled) return { client: pooled, key, reached: REACHED.get(pooled) ?? plan.demand.minimum };
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
  REACHED.set(client, reached);
  return { client, key, reached };
}

export interface TransactionOutcome {
  /** Final results for recipients this host settled (delivered, failed, or 4xx on RCPT). */
  settled: RecipientResult[];
  /** Transaction-level temporary failure: try the remaining recipients at the next host. */
  retryElsewhere?: string;
}

export async function transact(client: SmtpClient, attempt: HostAttempt, job: DomainJob, pending: Recipient[], deps: SessionDeps): Promise<TransactionOutcome> {
  const tls = client.tls;
  const link = REACHED.get(client);
  const result = (r: Recipient, outcome: RecipientResult['outcome'], reply: string, enhanced?: string, sentSha256: string | null = null): RecipientResult => ({
    recipientId: r.id,
    outcome,
    reply,
    enhanced,
    link,
    receipt: receiptFor(attempt, tls, r, reply, outcome, deps.clock.now(), sentSha256),
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
  for (const r of accepted) settled.push(result(r, outcome, replyLine(final), statusFrom(final), final.sentSha256));
  return { settled };
}

