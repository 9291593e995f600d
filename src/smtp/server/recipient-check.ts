import type { Clock, Logger } from '../../kernel/index.ts';
import { MailError } from '../../kernel/index.ts';
import { parseAddress } from '../../mail/index.ts';
import { SmtpClient } from '../client/index.ts';

/*
 * Inbound recipient verification at RCPT time, so mail to a mailbox that does not exist is
 * refused while the sending server is still connected (it bounces, not us: no backscatter to a
 * forged sender). Per domain, either a list of mailboxes (Postfix relay_recipient_maps) or a
 * probe of the smarthost: MAIL FROM:<> / RCPT TO:<address> / RSET, with positive and negative
 * answers cached (Postfix reject_unverified_recipient + verify(8)). A probe that gets no
 * answer (smarthost down, 4xx) says 450 4.1.1, as Postfix's unverified_recipient_defer_code
 * does: never "accept everything" while the check cannot run.
 */

export type RecipientVerification = 'list' | 'callout' | 'off';

export interface DomainRecipients {
  smarthost: string;
  recipients?: string[];
  verifyRecipients?: RecipientVerification;
}

export interface RecipientVerifierOptions {
  domains: Record<string, DomainRecipients>;
  positiveTtlMs: number;
  negativeTtlMs: number;
  probeTimeoutMs: number;
  maxCached: number;
  /** Probes in flight on this node; identical addresses share one (default 10). */
  maxConcurrentProbes?: number;
  /** Unique addresses one client connection may have probed (default 20). */
  maxRcptProbesPerSession?: number;
  /** Our name in the probe's EHLO. */
  heloName: string;
}

type Verdict = 'known' | 'unknown' | 'unverified' | 'no-smtputf8' | 'congested';

export function verificationOf(domain: DomainRecipients): RecipientVerification {
  return domain.verifyRecipients ?? (domain.recipients ? 'list' : 'callout');
}

/*
 * Each probe is a connection to the smarthost: unbounded, 20 clients x 100 RCPTs of unique
 * addresses opened 2,000 at once (amplification against our own mailbox server). Past the caps
 * RCPT gets 450 4.4.5 (RFC 3463 "system congestion"): the sender tries again later, as Postfix
 * defers when verify(8) cannot answer in time.
 */
const CONGESTED = () => new MailError(450, '4.4.5', 'Recipient address rejected: too many mailbox checks at once; try again later', 'smtp');
const SESSION_CAP = () => new MailError(450, '4.4.5', 'Recipient address rejected: too many unchecked recipients in this session; try again later', 'smtp');

const UNKNOWN = () => new MailError(550, '5.1.1', 'Recipient address rejected: no such mailbox here', 'smtp');

export class RecipientVerifier {
  private readonly options: RecipientVerifierOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly domains = new Map<string, { config: DomainRecipients; mailboxes: Set<string> }>();
  private readonly cache = new Map<string, { verdict: 'known' | 'unknown'; until: number }>();
  private readonly inFlight = new Map<string, Promise<Verdict>>();
  /** Per client connection: the addresses it made us probe. */
  private readonly probedBySession = new Map<string, Set<string>>();

  constructor(options: RecipientVerifierOptions, deps: { clock: Clock; logger: Logger }) {
    this.options = options;
    this.clock = deps.clock;
    this.logger = deps.logger;
    for (const [name, config] of Object.entries(options.domains)) {
      const domain = name.toLowerCase();
      // Entries are local parts or full addresses of this domain; compared in lower case.
      const mailboxes = new Set((config.recipients ?? []).map((r) => (r.includes('@') ? r.toLowerCase() : `${r.toLowerCase()}@${domain}`)));
      this.domains.set(domain, { config, mailboxes });
    }
  }

  /** A refusal for the recipient, or null to accept it. Addresses outside our domains pass (the relay check is elsewhere). */
  async check(address: string, sessionId?: string): Promise<MailError | null> {
    const parsed = parseAddress(address);
    if (!parsed) return null;
    const domain = this.domains.get(parsed.domain);
    if (!domain) return null;
    const mode = verificationOf(domain.config);
    if (mode === 'off') return null;
    const key = `${parsed.local.toLowerCase()}@${parsed.domain}`;
    if (mode === 'list') {
      // RFC 5321 §4.5.1: postmaster must be accepted for every domain we receive for.
      if (domain.mailboxes.has(key) || parsed.local.toLowerCase() === 'postmaster') return null;
      return UNKNOWN();
    }
    const verdict = await this.probeCached(key, address, domain.config.smarthost, sessionId);
    if (verdict === 'congested') return sessionId && this.sessionFull(sessionId, key) ? SESSION_CAP() : CONGESTED();
    if (verdict === 'known') return null;
    if (verdict === 'unknown') return UNKNOWN();
    if (verdict === 'no-smtputf8') return new MailError(553, '5.6.7', 'Recipient address rejected: the mailbox server does not accept internationalised addresses (RFC 6531)', 'smtp');
    return new MailError(450, '4.1.1', 'Recipient address rejected: unverified address: cannot check the mailbox now; try again later', 'smtp');
  }

  /** The client connection ended: its probe count goes with it. */
  endSession(sessionId: string): void {
    this.probedBySession.delete(sessionId);
  }

  private sessionFull(sessionId: string, key: string): boolean {
    const probed = this.probedBySession.get(sessionId);
    return !!probed && !probed.has(key) && probed.size >= (this.options.maxRcptProbesPerSession ?? 20);
  }

  private async probeCached(key: string, address: string, smarthost: string, sessionId?: string): Promise<Verdict> {
    const now = this.clock.now();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return cached.verdict;
    if (sessionId && this.sessionFull(sessionId, key)) return 'congested';
    const running = this.inFlight.get(key);
    if (running) return running;
    if (this.inFlight.size >= (this.options.maxConcurrentProbes ?? 10)) return 'congested';
    if (sessionId) {
      const probed = this.probedBySession.get(sessionId) ?? new Set<string>();
      probed.add(key);
      this.probedBySession.set(sessionId, probed);
    }
    const probe = this.probe(address, smarthost).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, probe);
    const verdict = await probe;
    // Only the mailbox server's own yes or no is remembered; a failed probe is tried again next time.
    if (verdict === 'known' || verdict === 'unknown') {
      this.cache.delete(key);
      this.cache.set(key, { verdict, until: now + (verdict === 'known' ? this.options.positiveTtlMs : this.options.negativeTtlMs) });
      while (this.cache.size > this.options.maxCached) this.cache.delete(this.cache.keys().next().value as string);
    }
    return verdict;
  }

  private async probe(address: string, smarthost: string): Promise<Verdict> {
    const colon = smarthost.lastIndexOf(':');
    const host = smarthost.slice(0, colon);
    const port = Number(smarthost.slice(colon + 1));
    let client: SmtpClient | undefined;
    try {
      client = await SmtpClient.connect({ host, port, servername: host, heloName: this.options.heloName, connectTimeoutMs: this.options.probeTimeoutMs, commandTimeoutMs: this.options.probeTimeoutMs });
      await client.ehlo();
      // The address is all a probe carries, but it is still the organisation's directory: use
      // TLS when the smarthost offers it (as the relay does; the smarthost is the admin's choice).
      if (client.has('STARTTLS')) await client.startTls({});
      const international = /[^\x00-\x7f]/.test(address);
      if (international && !client.has('SMTPUTF8')) return 'no-smtputf8';
      // The null sender, as Exim's callouts use by default: a probe must never cause mail back.
      const { mail, rcpts } = await client.envelope('', international ? ['SMTPUTF8'] : [], [{ address, params: [] }]);
      if (mail.code !== 250) {
        this.logger.warn({ smarthost, reply: mail.raw }, 'recipient probe: smarthost refused MAIL FROM:<>');
        return 'unverified';
      }
      const rcpt = rcpts[0];
      if (!rcpt) return 'unverified';
      await client.rset();
      if (rcpt.code >= 200 && rcpt.code < 300) return 'known';
      if (rcpt.code >= 500) return 'unknown';
      return 'unverified';
    } catch (error) {
      this.logger.warn({ smarthost, err: (error as Error).message }, 'recipient probe failed');
      return 'unverified';
    } finally {
      await client?.quit();
    }
  }
}
