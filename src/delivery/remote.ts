import net from 'node:net';
import { MailError, type LinkRequirement, type Logger, type TlsPolicyMode } from '../kernel/index.ts';
import { DnsError, type Resolver } from '../dns/index.ts';
import type { SmtpClient } from '../smtp/client/index.ts';
import { canonicalDomain } from '../mail/index.ts';
import { resolveDestinations } from './mx.ts';
import { resolveValidated } from './validated-mx.ts';
import { atLeast, heldLevel, hostDemand, strongest, type MessageDemand, type ProvenLink } from '../policy/index.ts';
import type { DomainAssessment, HostAssessment, SecurityAssessor } from './security.ts';
import { openSession, PolicySkip, receiptFor, transact, type HostAttempt, type HostPlan, type Recipient, type SessionDeps } from './session.ts';
import type { DomainJob, RecipientResult } from './worker.ts';
import { signedBody, type OutboundSigner } from '../auth/index.ts';
import { Readable } from 'node:stream';

export type { TlsSessionResult } from './session.ts';

export interface RemoteDeps extends SessionDeps {
  resolver: Resolver;
  /** Destination port for MX hosts: 25, except in tests. */
  port: number;
  tlsPolicyFor(domain: string, job: DomainJob): TlsPolicyMode;
  ipFamilies?: (4 | 6)[];
  logger: Logger;
  /** What the domain's MX hosts proved and still holds (the link-security memory), read before each session. */
  recall?: (domain: string) => Promise<ProvenLink[]>;
  /** DANE and MTA-STS; without it only the admin's TLS policy applies. */
  security?: SecurityAssessor;
  /** An admin pin: the weakest link a destination domain may be reached over, read before each attempt. */
  pinFor?: (domain: string) => Promise<LinkRequirement | undefined>;
  /** DKIM-signs what we send (auth/); without it bodies go out as stored. */
  signer?: OutboundSigner;
}

/**
 * The body exactly as it goes on the wire, opened at the last moment (after scrubbing, pickup
 * conversion and end-to-end encryption, which happen before `deliverToDomain`): inbound mail
 * relayed to the mailbox server gets our verdict headers on top (it is not ours to sign);
 * everything else is DKIM-signed when its From: domain has keys.
 */
function wireBody(job: DomainJob, signer: OutboundSigner | undefined): DomainJob['openBody'] {
  if (job.origin === 'inbound') {
    const verdict = job.authHeaders;
    if (!verdict) return job.openBody;
    return async () => {
      const body = await job.openBody();
      return Readable.from((async function* () {
        yield Buffer.from(verdict, 'latin1');
        yield* body;
      })());
    };
  }
  if (!signer) return job.openBody;
  return async () => signedBody(await job.openBody(), signer);
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

/** What one round over the MX hosts left: results, who is still pending, and why. */
interface Round {
  results: RecipientResult[];
  pending: Recipient[];
  problems: string[];
  /** Every problem was a link policy skip (no connection or server failure). */
  policyOnly: boolean;
  requireTlsOnly: boolean;
  /** The strongest level a skipped host reached. */
  best: LinkRequirement | null;
  /** Some host answered (skipped by policy or failed its TLS handshake), so a weaker demand could reach it. */
  answered: boolean;
  lastAttempt: HostAttempt | null;
}

type Hosts = { host: string; addresses: string[]; port: number }[];

/** Tries every MX (and every address of each) once under `message`'s demand. */
async function round(job: DomainJob, deps: RemoteDeps, hosts: Hosts, assessment: DomainAssessment | undefined, proven: ProvenLink[], message: MessageDemand, recipients: Recipient[]): Promise<Round> {
  const now = () => deps.clock.now();
  const state: Round = { results: [], pending: [...recipients], problems: [], policyOnly: true, requireTlsOnly: true, best: null, answered: false, lastAttempt: null };
  for (const destination of hosts) {
    const hostAssessment: HostAssessment = assessment?.hosts.get(destination.host) ?? { security: { kind: 'none' } };
    if (hostAssessment.unusable) {
      state.problems.push(hostAssessment.unusable.reason);
      state.requireTlsOnly = false;
      if (hostAssessment.unusable.temporary) state.policyOnly = false;
      continue;
    }
    const plan: HostPlan = { demand: hostDemand(hostAssessment.security, message, heldLevel(destination.host, proven, now())), assessment: hostAssessment, domain: assessment };
    for (const ip of destination.addresses) {
      if (state.pending.length === 0) break;
      const attempt: HostAttempt = { host: destination.host, ip, port: destination.port };
      state.lastAttempt = attempt;
      for (const forcePlain of [false, true]) {
        let session: { client: SmtpClient; key: string } | null = null;
        try {
          session = await openSession(attempt, plan, job, deps, forcePlain);
          const outcome = await transact(session.client, attempt, job, state.pending, deps);
          state.results.push(...outcome.settled);
          const settledIds = new Set(outcome.settled.map((r) => r.recipientId));
          state.pending = state.pending.filter((r) => !settledIds.has(r.id));
          if (outcome.retryElsewhere) {
            state.policyOnly = false;
            state.requireTlsOnly = false;
            state.problems.push(`${attempt.host} [${ip}]: ${outcome.retryElsewhere}`);
          }
          // A session that just answered 4xx is not kept: the next try should meet a fresh one.
          const reusable = !outcome.retryElsewhere && outcome.settled.every((r) => r.outcome !== 'deferred');
          if (deps.pool && reusable && session.client.alive && (await session.client.rset())) deps.pool.give(session.key, session.client);
          else await session.client.quit();
          break;
        } catch (error) {
          if (session) session.client.close();
          if (error instanceof PolicySkip) {
            state.problems.push(error.message);
            state.answered = true;
            if (!error.requireTls) state.requireTlsOnly = false;
            if (state.best === null || !atLeast(state.best, error.reached)) state.best = error.reached;
            if (plan.demand.held) {
              // A destination that proved more now offers less: a stripper, or a broken server.
              deps.logger.error({ domain: job.domain, host: attempt.host, ip, alert: true, held: plan.demand.minimum, reached: error.reached, reason: error.message }, 'link-security downgrade refused; deferring');
            } else {
              deps.logger.warn({ domain: job.domain, host: attempt.host, ip, required: plan.demand.minimum, reached: error.reached, reason: error.message }, 'host skipped by link policy');
            }
            break;
          }
          state.policyOnly = false;
          state.requireTlsOnly = false;
          const text = (error as Error).message;
          state.problems.push(`${attempt.host} [${ip}]: ${text}`);
          // Only where plaintext is allowed may a failed handshake be retried without TLS:
          // that is what "opportunistic" means, and the receipt will say no TLS was used. A
          // destination that proved TLS is held to it by the memory, so its minimum is not none.
          const handshakeFailed = /TLS handshake/.test(text);
          if (handshakeFailed) state.answered = true;
          if (!(handshakeFailed && plan.demand.minimum === 'none' && !forcePlain)) break;
          deps.logger.warn({ domain: job.domain, host: attempt.host, ip }, 'TLS handshake failed; retrying without TLS (opportunistic policy)');
        }
      }
    }
  }
  return state;
}

/**
 * One SMTP transaction for the recipients of one message at one domain. Every MX (and every
 * address of it) is tried before deferring; a TLS policy failure skips a host and is never
 * answered with plaintext (except the opportunistic fallback after a failed handshake).
 *
 * Our own notices (job.notice) carry no message content, so no rule about content holds them
 * back (the sender's level, a pin, REQUIRETLS; item 2 of issue 10): they take the best link
 * the domain offers, first asking every MX for a verified link, then, if none gave one, the
 * best level any MX reached. What the destination publishes or proved (DANE, MTA-STS, the
 * link-security memory) still holds, so a stripper gets a deferral, not the notice.
 */
export async function deliverToDomain(queued: DomainJob, deps: RemoteDeps): Promise<{ results: RecipientResult[] }> {
  // One destination, one name: the address check accepts U-labels and fullwidth letters that
  // IDNA maps to the same A-labels, and DNS answers for every spelling alike, so the memory,
  // the pins, the admin's TLS policy and DANE are all keyed by the A-label form (RFC 5890).
  const job: DomainJob = { ...queued, domain: canonicalDomain(queued.domain), openBody: wireBody(queued, deps.signer) };
  const now = () => deps.clock.now();
  const fail = (recipients: Recipient[], outcome: RecipientResult['outcome'], reply: string, enhanced?: string, attempt: HostAttempt | null = null, bestLink?: LinkRequirement | null): RecipientResult[] =>
    recipients.map((r) => ({ recipientId: r.id, outcome, reply, enhanced, bestLink: bestLink ?? undefined, receipt: receiptFor(attempt, null, r, reply, outcome, now()) }));

  let hosts: Hosts;
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
  const notice = job.notice !== undefined;
  // Read per attempt, uncached: a pin set by the CLI (another process, maybe another node) holds from the next attempt on.
  const pin = notice ? undefined : await deps.pinFor?.(job.domain);
  const senderLevel = notice ? undefined : job.requiredLevel;
  const required = strongest(senderLevel, pin);
  const pinned = pin !== undefined && pin !== 'none' && atLeast(pin, senderLevel ?? 'none');
  const message: MessageDemand = {
    localPolicy: deps.tlsPolicyFor(job.domain, job),
    required: required === 'none' ? undefined : required,
    requiredBy: pinned ? `the administrator's pin of ${job.domain} (sealgate domain pin)` : undefined,
    // RFC 8689 §5: the header is ignored when the message also carries REQUIRETLS.
    tlsOptional: job.tlsOptional === true && !job.requireTls,
  };
  let state: Round;
  if (notice) {
    state = await round(job, deps, hosts, assessment, proven, { ...message, required: 'tls-verified', requiredBy: 'a notice\'s first choice (a verified link)' }, job.recipients);
    if (state.pending.length && state.answered && !atLeast(state.best ?? 'none', 'tls-verified')) {
      const best = state.best ?? 'none';
      const first = state.results;
      state = await round(job, deps, hosts, assessment, proven, { ...message, required: best === 'none' ? undefined : best, requiredBy: `the best link an MX of ${job.domain} offered ('${best}')` }, state.pending);
      state.results.unshift(...first);
    }
  } else {
    state = await round(job, deps, hosts, assessment, proven, message, job.recipients);
  }
  const { results, problems, policyOnly, requireTlsOnly, best, lastAttempt } = state;
  let pending = state.pending;
  const detail = problems.join('; ') || 'no usable MX host';
  if (!notice && pending.length && policyOnly && problems.length && job.requireTls && requireTlsOnly) {
    // RFC 8689 §4.2.1: no MX can carry it as REQUIRETLS demands; retrying will not change that.
    const reply = `550 5.7.30 REQUIRETLS support required: no MX of ${job.domain} offers an authenticated (DANE or MTA-STS) link that advertises REQUIRETLS: ${detail}`.slice(0, 900);
    results.push(...fail(pending, 'failed', reply, '5.7.30', lastAttempt, best));
    pending = [];
  }
  if (!notice && pending.length && policyOnly && problems.length && message.required && !atLeast(best ?? 'none', message.required)) {
    // Every MX answered and none can carry the link the sender (or a pin) asked for: waiting
    // will not change that, so the sender hears at once (never a silent downgrade). A host that
    // met the required level but not the destination's own (DANE, MTA-STS, memory) defers instead.
    const who = pinned ? `${job.domain} is pinned to '${message.required}' by the administrator (sealgate domain pin)` : `Link level '${message.required}' was required for ${job.domain}`;
    const reply = `550 5.7.10 ${who}; the best found was '${best ?? 'none'}': ${detail}`.slice(0, 900);
    results.push(...fail(pending, 'failed', reply, '5.7.10', lastAttempt, best ?? 'none'));
    pending = [];
  }
  if (pending.length) {
    const reply = policyOnly && problems.length
      ? `451 4.7.5 No MX of ${job.domain} met the link policy: ${detail}`
      : `451 4.4.1 No MX of ${job.domain} accepted the message: ${detail}`;
    results.push(...fail(pending, 'deferred', reply.slice(0, 900), policyOnly ? '4.7.5' : '4.4.1', lastAttempt, best));
  }
  return { results };
}
