import net from 'node:net';
import type { Clock, DeliveryReceipt, Logger, TlsPolicyMode } from '../kernel/index.ts';
import { MailError } from '../kernel/index.ts';
import type { Resolver } from '../dns/index.ts';
import type { LinkObservation } from '../linksec/index.ts';
import { SmtpClient, SmtpClientError, xtext, type SmtpReply, type TlsDetails } from '../smtp/index.ts';
import { resolveDestinations, type Destination } from './mx.ts';
import { observationOf } from './probe.ts';
import { effectiveTlsPolicy } from '../policy/index.ts';
import type { ConnectionPool } from './pool.ts';
import type { DomainJob, RecipientResult } from './worker.ts';

export interface RemoteDeps {
  resolver: Resolver;
  heloName: string;
  /** Destination port for MX hosts: 25, except in tests. */
  port: number;
  tlsPolicyFor(domain: string): TlsPolicyMode;
  extraCa: (string | Buffer)[];
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  ipFamilies?: (4 | 6)[];
  logger: Logger;
  clock: Clock;
  pool?: ConnectionPool;
  /** Told what each new session showed (the link-security memory records it). */
  observe?: (observation: LinkObservation) => void;
}

type Recipient = DomainJob['recipients'][number];

interface HostAttempt {
  host: string;
  ip: string;
  port: number;
}

/** Why a host was not used; a policy skip never becomes a plaintext attempt. */
class PolicySkip extends Error {}

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
 * Opens (or reuses) a session with one MX address and brings it to the level the policy
 * needs. Throws PolicySkip when the host cannot meet the policy, SmtpClientError otherwise.
 */
async function openSession(attempt: HostAttempt, policy: TlsPolicyMode, job: DomainJob, deps: RemoteDeps, forcePlain: boolean): Promise<{ client: SmtpClient; key: string }> {
  const key = `${attempt.ip}|${attempt.port}|${attempt.host}|${policy}|${forcePlain ? 'plain' : 'tls'}`;
  const pooled = deps.pool?.take(key);
  if (pooled) return { client: pooled, key };
  const client = await SmtpClient.connect({ host: attempt.ip, port: attempt.port, servername: attempt.host, heloName: deps.heloName, connectTimeoutMs: deps.connectTimeoutMs, commandTimeoutMs: deps.commandTimeoutMs });
  let offered = false;
  try {
    await client.ehlo();
    offered = client.has('STARTTLS');
    if (!forcePlain && offered) {
      const details = await client.startTls({ ca: deps.extraCa });
      deps.observe?.(observationOf(job.domain, attempt.host, attempt.ip, client, true, null, deps.clock.now()));
      if (policy === 'verified' && !details.verified) throw new PolicySkip(`certificate of ${attempt.host} not valid for TLS policy 'verified': ${details.verifyError}`);
    } else if (!offered) {
      deps.observe?.(observationOf(job.domain, attempt.host, attempt.ip, client, false, null, deps.clock.now()));
    }
    if (!client.tls && policy !== 'opportunistic') {
      throw new PolicySkip(`${attempt.host} does not offer STARTTLS, required by TLS policy '${policy}'`);
    }
    if (job.requireTls && !(client.tls?.verified && client.has('REQUIRETLS'))) {
      throw new PolicySkip(`${attempt.host} cannot carry a REQUIRETLS message (${client.tls?.verified ? 'REQUIRETLS not advertised' : 'no verified TLS'})`);
    }
  } catch (error) {
    if (offered && !client.tls && !(error instanceof PolicySkip)) {
      deps.observe?.(observationOf(job.domain, attempt.host, attempt.ip, client, true, (error as Error).message, deps.clock.now()));
    }
    await client.quit();
    throw error;
  }
  return { client, key };
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

async function destinationsFor(job: DomainJob, deps: RemoteDeps): Promise<{ host: string; addresses: string[]; port: number }[]> {
  if (job.route.kind === 'smarthost') {
    const { host, port } = job.route;
    if (net.isIP(host)) return [{ host, addresses: [host], port }];
    const [d] = await resolveDestinations(host, { ...deps.resolver, resolveMx: async () => [] }, { families: deps.ipFamilies });
    return [{ host, addresses: d.addresses, port }];
  }
  const destinations: Destination[] = await resolveDestinations(job.domain, deps.resolver, { families: deps.ipFamilies });
  return destinations.map((d) => ({ host: d.host, addresses: d.addresses, port: deps.port }));
}

/**
 * One SMTP transaction for the recipients of one message at one domain. Every MX (and every
 * address of it) is tried before deferring; a TLS policy failure skips a host and is never
 * answered with plaintext (except the opportunistic fallback after a failed handshake).
 */
export async function deliverToDomain(job: DomainJob, deps: RemoteDeps): Promise<{ results: RecipientResult[] }> {
  const policy = effectiveTlsPolicy(deps.tlsPolicyFor(job.domain), job.requiredLevel);
  const now = () => deps.clock.now();
  const fail = (recipients: Recipient[], outcome: RecipientResult['outcome'], reply: string, enhanced?: string, attempt: HostAttempt | null = null): RecipientResult[] =>
    recipients.map((r) => ({ recipientId: r.id, outcome, reply, enhanced, receipt: receiptFor(attempt, null, r, reply, outcome, now()) }));

  let hosts;
  try {
    hosts = await destinationsFor(job, deps);
  } catch (error) {
    if (error instanceof MailError) return { results: fail(job.recipients, error.temporary ? 'deferred' : 'failed', error.reply, error.enhanced) };
    throw error;
  }

  const results: RecipientResult[] = [];
  let pending = [...job.recipients];
  const problems: string[] = [];
  let policyOnly = true;
  let lastAttempt: HostAttempt | null = null;
  for (const destination of hosts) {
    for (const ip of destination.addresses) {
      if (pending.length === 0) break;
      const attempt: HostAttempt = { host: destination.host, ip, port: destination.port };
      lastAttempt = attempt;
      for (const forcePlain of [false, true]) {
        let session: { client: SmtpClient; key: string } | null = null;
        try {
          session = await openSession(attempt, policy, job, deps, forcePlain);
          const outcome = await transact(session.client, attempt, job, pending, deps);
          results.push(...outcome.settled);
          const settledIds = new Set(outcome.settled.map((r) => r.recipientId));
          pending = pending.filter((r) => !settledIds.has(r.id));
          if (outcome.retryElsewhere) {
            policyOnly = false;
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
            deps.logger.warn({ domain: job.domain, host: attempt.host, ip, policy, reason: error.message }, 'host skipped by TLS policy');
            break;
          }
          policyOnly = false;
          const message = (error as Error).message;
          problems.push(`${attempt.host} [${ip}]: ${message}`);
          // Only opportunistic TLS may retry in plaintext, and only after a failed handshake:
          // that is what "opportunistic" means, and the receipt will say no TLS was used.
          const handshakeFailed = /TLS handshake/.test(message);
          if (!(handshakeFailed && policy === 'opportunistic' && !forcePlain)) break;
          deps.logger.warn({ domain: job.domain, host: attempt.host, ip }, 'TLS handshake failed; retrying without TLS (opportunistic policy)');
        }
      }
    }
  }
  if (pending.length && policyOnly && problems.length && job.requiredLevel && job.requiredLevel !== 'none') {
    // Every MX answered and none can carry the link the sender asked for: waiting will not
    // change that, so the sender hears at once (never a silent downgrade).
    const reply = `550 5.7.10 The sender required link level '${job.requiredLevel}'; no MX of ${job.domain} offers it: ${problems.join('; ')}`.slice(0, 900);
    results.push(...fail(pending, 'failed', reply, '5.7.10', lastAttempt));
    pending = [];
  }
  if (pending.length) {
    const detail = problems.join('; ') || 'no usable MX host';
    const reply = policyOnly && problems.length
      ? `451 4.7.5 TLS policy '${policy}' not met by any MX of ${job.domain}: ${detail}`
      : `451 4.4.1 No MX of ${job.domain} accepted the message: ${detail}`;
    results.push(...fail(pending, 'deferred', reply.slice(0, 900), policyOnly ? '4.7.5' : '4.4.1', lastAttempt));
  }
  return { results };
}
