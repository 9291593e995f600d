import type { AddressInfo } from 'node:net';
import type { Readable, Transform } from 'node:stream';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import type { Clock, DsnNotify, Envelope, LinkRequirement, Logger, Service } from '../../kernel/index.ts';
import { strongest } from '../../policy/index.ts';
import { waitText, type LoginOutcome } from '../../accounts/index.ts';
import { MailError, isMailError } from '../../kernel/index.ts';
import { formatAnonymousReceivedHeader, formatReceivedHeader, isRoutableRecipient, makePseudonym, mailboxRefusal, parseAddress, parseHeaders, splitHeaderBlock, type HeaderField } from '../../mail/index.ts';
import { IngressStream } from './ingress-stream.ts';
import { guardHandshakes, limitSessions, PerIpCounter, sharedConnectionSlots, type HandshakeGuard } from './limits.ts';
import { installReplyCodes, smtpError, toSmtpError } from './replies.ts';
import { intermediateTlsOptions } from './tls-profile.ts';
import { MimeDepthLimit } from '../../mail/index.ts';
import { checkEnvelopeSender, checkInboundSender, type SendersOf } from './sender-check.ts';
import { RecipientVerifier, type DomainRecipients } from './recipient-check.ts';
import { inboundHeaderRewriter } from './inbound-headers.ts';
import { anonymousHeaderRewriter, submittedHeaderRewriter } from './submitted-controls.ts';
import type { InboundE2e } from './e2e-inbound.ts';

export interface ListenerLimits {
  maxMessageBytes: number;
  maxRecipients: number;
  maxCommandLineBytes: number;
  maxTextLineBytes: number;
  maxReceivedHeaders: number;
  maxConnectionsPerIp: number;
  maxCommandsPerMinute: number;
  idleTimeoutMs: number;
  sessionTimeoutMs: number;
  maxAuthFailures: number;
  maxUnauthenticatedCommands: number;
  greetingDelayMs: number;
  /** Submission: deepest MIME nesting accepted (default 20). */
  maxMimeDepth?: number;
  /** Connections over all SMTP listeners of the process (default 1000). */
  maxConnections?: number;
  /** Of those, slots only submission may take (default 100). */
  reservedSubmissionConnections?: number;
  /** Idle limit before MAIL (inbound) or AUTH (submission) (default 30 s). */
  preMailIdleTimeoutMs?: number;
  /** Whole time allowed before MAIL (inbound) or AUTH (submission) (default 2 min). */
  preMailSessionTimeoutMs?: number;
  /** Bytes that count as progress without a complete line (default 512). */
  minRateBytes?: number;
  /** Minimum average DATA rate over each window (default 500 bytes/s over 10 s). */
  minDataRateBytesPerSecond?: number;
  minDataRateWindowMs?: number;
}

export interface ListenerOptions {
  role: 'submission' | 'inbound';
  /** Subject tag that asks for Secure Message Pickup (submission); unset: no pickup. */
  pickupTag?: string;
  /** Users (lower case) whose every message becomes a pickup. */
  pickupAlways?: string[];
  /** Submission: every message on this listener is anonymous (issue 12). */
  anonymous?: boolean;
  /** Header fields an anonymous submission loses besides X-Originating-IP, X-Mailer and User-Agent. */
  anonymityStripHeaders?: string[];
  host: string;
  port: number;
  /** 465-style: TLS from the first byte. */
  implicitTls: boolean;
  tls: { key: string | Buffer; cert: string | Buffer };
  hostname: string;
  /** Inbound: the only domains mail is accepted for. */
  localDomains: string[];
  /** Inbound: per-domain recipient verification and whether outsiders may send as the domain. */
  domains?: Record<string, DomainRecipients & { allowExternalSenders?: boolean }>;
  /**
   * Inbound: the address the gateway's own mails come from (branding.noticeFrom). Mail to it is
   * taken, never relayed, and handed to `answerNoticeReply`; it must be alone in its transaction.
   */
  noticeAddress?: string;
  recipientVerification?: { positiveTtlMs: number; negativeTtlMs: number; probeTimeoutMs: number; maxCached: number; maxConcurrentProbes?: number; maxRcptProbesPerSession?: number };
  limits: ListenerLimits;
  /** At stop, how long open sessions may go on (a message in DATA finishes) before 421; default 3 s. */
  closeGraceMs?: number;
}

export interface IngressDeps {
  /** A login through the shared budgets (accounts `Users.login`): refused ones were never checked. */
  login(username: string, password: string, ip: string): Promise<LoginOutcome>;
  /** The addresses a user may send as; without it a user owns just their user name. */
  sendersOf?: SendersOf;
  /** Seals a sender's pickup passphrase before it enters the (unencrypted) envelope. */
  sealSecret?: (secret: string) => string;
  /** Why a pickup answer cannot serve, or null (pickup's `answerRefusal`; smtp may not import pickup). */
  answerRefusal?: (answer: string) => string | null;
  /** What applies to every message of the user: a link requirement, always-pickup. */
  standingOf?(username: string): Promise<UserStanding>;
  /** Mail to the notice address, its headers read (the body is not kept): answers it or not, and says which. */
  answerNoticeReply?(reply: NoticeReply): Promise<'answered' | 'not-answered'>;
  /** Inbound: decrypt, verify and mark protected mail before it is stored (e2e-inbound.ts). */
  inboundE2e?: InboundE2e;
  /** Inbound: SPF/DKIM/DMARC/ARC over the message as stored (auth's InboundAuthTap); holds the end of the body until the verdict. */
  inboundAuth?: (envelope: Envelope, client: { ip: string; helo: string; mailFrom: string }) => Transform;
  /** Resolves only once message and envelope are durable; rejects with a MailError. */
  ingest(envelope: Envelope, body: Readable): Promise<{ id: string }>;
  /** Sessions as the metrics count them: admitted, refused at connect by a limit, ended. */
  observeSession?(event: 'opened' | 'refused' | 'closed'): void;
  logger: Logger;
  clock: Clock;
}

/** What applies to every message of a user: a link requirement, always-pickup, anonymity. */
export interface UserStanding {
  requiredLevel?: LinkRequirement;
  pickupAlways?: boolean;
  anonymous?: boolean;
}

export interface NoticeReply {
  /** The envelope sender ('' for the null sender). */
  mailFrom: string;
  headers: HeaderField[];
  clientIp: string;
}

/** The header block of a mail to the notice address is read up to this; the rest is discarded. */
const NOTICE_REPLY_HEADER_BYTES = 64 * 1024;

export type SmtpListener = Service & { address(): { host: string; port: number }; listening(): boolean };

function protocolOf(session: SMTPServerSession): string {
  // RFC 3848 / RFC 6531 "with" keywords.
  const base = smtpUtf8Of(session.envelope.mailFrom) ? 'UTF8SMTP' : session.openingCommand === 'HELO' ? 'SMTP' : 'ESMTP';
  return `${base}${session.secure ? 'S' : ''}${session.user ? 'A' : ''}`;
}

/**
 * SMTPUTF8 as the accepted MAIL command gave it: smtp-server sets envelope.smtpUtf8 before
 * onMailFrom runs and never clears it, so a refused `MAIL … SMTPUTF8` would otherwise leak
 * into the next MAIL of the session.
 */
function smtpUtf8Of(address: SMTPServerAddress | false | undefined): boolean {
  return !!address && (address.args as Record<string, unknown> | false | undefined || {})['SMTPUTF8'] === true;
}

function notifyOf(address: SMTPServerAddress): DsnNotify[] | undefined {
  const notify = address.dsn?.notify;
  return notify && notify.length ? (notify.map((n) => n.toUpperCase()) as DsnNotify[]) : undefined;
}

export function createSmtpListener(options: ListenerOptions, deps: IngressDeps): SmtpListener {
  installReplyCodes();
  const logger = deps.logger.child({ module: 'smtp', listener: `${options.role}:${options.port}` });
  const { limits } = options;
  const localDomains = new Set(options.localDomains.map((d) => d.toLowerCase()));
  const perIp = new PerIpCounter(limits.maxConnectionsPerIp);
  const maxConnections = limits.maxConnections ?? 1000;
  const slots = sharedConnectionSlots(maxConnections, limits.reservedSubmissionConnections ?? 100);
  const authFailures = new Map<string, number>();
  const userStanding = new Map<string, UserStanding>();
  const sessionTimers = new Map<string, NodeJS.Timeout>();
  const counted = new Set<string>();
  const submission = options.role === 'submission';
  const noticeAddress = !submission && options.noticeAddress && deps.answerNoticeReply ? options.noticeAddress.toLowerCase() : undefined;
  const isNoticeAddress = (address: string) => noticeAddress !== undefined && address.toLowerCase() === noticeAddress;
  const recipientVerifier =
    !submission && options.domains
      ? new RecipientVerifier({ domains: options.domains, heloName: options.hostname, ...(options.recipientVerification ?? { positiveTtlMs: 86_400_000, negativeTtlMs: 3_600_000, probeTimeoutMs: 10_000, maxCached: 100_000 }) }, { clock: deps.clock, logger })
      : undefined;

  let handshakes: HandshakeGuard | undefined;
  const server: SMTPServer = new SMTPServer({
    name: options.hostname,
    banner: 'Sealgate',
    secure: options.implicitTls,
    ...intermediateTlsOptions(options.tls.key, options.tls.cert),
    size: limits.maxMessageBytes,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !submission,
    disabledCommands: submission ? [] : ['AUTH'],
    authRequiredMessage: '5.7.0 Authentication required',
    maxClients: maxConnections,
    socketTimeout: limits.idleTimeoutMs,
    maxCommandLength: limits.maxCommandLineBytes,
    maxRecipients: limits.maxRecipients,
    maxAllowedUnauthenticatedCommands: submission ? limits.maxUnauthenticatedCommands : false,
    disableReverseLookup: true,
    // smtp-server keeps these off unless asked.
    hideENHANCEDSTATUSCODES: false,
    hideDSN: false,
    hideREQUIRETLS: false,
    // A stopping gateway waits at most this long for open sessions (a message in DATA may
    // finish and get its 250), then tells the rest 421.
    closeTimeout: options.closeGraceMs ?? 3000,
    logger: false,

    onConnect(session, callback) {
      handshakes?.established(session.remoteAddress, session.remotePort);
      if (!perIp.tryAcquire(session.remoteAddress)) {
        logger.warn({ ip: session.remoteAddress }, 'per-IP connection limit reached');
        deps.observeSession?.('refused');
        return callback(smtpError(421, '4.7.0', 'Too many connections from your address; try again later'));
      }
      if (!slots.tryAcquire(options.role)) {
        perIp.release(session.remoteAddress);
        logger.warn({ ip: session.remoteAddress, inUse: slots.inUse }, 'connection slots full');
        deps.observeSession?.('refused');
        return callback(smtpError(421, '4.7.0', 'Too many connections; try again in a moment'));
      }
      counted.add(session.id);
      deps.observeSession?.('opened');
      sessionTimers.set(
        session.id,
        setTimeout(() => {
          for (const connection of server.connections as Set<{ id: string; send(code: number, text: string, context?: unknown): void }>) {
            if (connection.id === session.id) connection.send(421, '4.4.2 Session time limit reached; closing', false);
          }
        }, limits.sessionTimeoutMs).unref(),
      );
      callback();
    },

    onClose(session) {
      if (counted.delete(session.id)) {
        perIp.release(session.remoteAddress);
        slots.release(options.role);
        deps.observeSession?.('closed');
      }
      clearTimeout(sessionTimers.get(session.id));
      sessionTimers.delete(session.id);
      authFailures.delete(session.id);
      recipientVerifier?.endSession(session.id);
      userStanding.delete(session.id);
    },

    onAuth(auth, session, callback) {
      const username = auth.username ?? '';
      // RFC 4616: an authzid asks to act as someone else; nobody may here, so one that is not the
      // user itself is refused before any password is checked (smtp-server passes it on unchecked).
      if (auth.method === 'PLAIN' && auth.authzid && auth.authzid !== username) {
        logger.warn({ ip: session.remoteAddress }, 'authentication refused: authorization identity other than the user');
        return callback(smtpError(535, '5.7.8', 'You may log in only as yourself: leave the authorization identity empty or make it your user name'));
      }
      deps
        .login(username, auth.password ?? '', session.remoteAddress)
        .then((outcome) => {
          if (outcome.status === 'ok') {
            logger.info({ user: username, ip: session.remoteAddress }, 'authenticated');
            return (deps.standingOf?.(username) ?? Promise.resolve(undefined)).then((standing) => {
              if (standing) userStanding.set(session.id, standing);
              callback(null, { user: username });
            });
          }
          const failures = (authFailures.get(session.id) ?? 0) + 1;
          authFailures.set(session.id, failures);
          if (outcome.status === 'forbidden' || outcome.status === 'second-factor') {
            // The password was right: say what stops the login (Gmail's 534 5.7.9 for app passwords).
            logger.warn({ user: username, ip: session.remoteAddress, status: outcome.status, reason: outcome.status === 'forbidden' ? outcome.reason : undefined }, 'authentication refused');
            if (outcome.status === 'forbidden' && outcome.reason === 'app-password-required') {
              return callback(smtpError(534, '5.7.9', 'This account has a second factor: use an app password in your mail client (your administrator makes one with sealgate user app-password)'));
            }
            if (outcome.status === 'forbidden' && outcome.reason === 'admin-lock') return callback(smtpError(535, '5.7.8', 'This account is locked by an administrator; ask them to unlock it'));
            if (outcome.status === 'forbidden' && outcome.reason === 'failure-lock') return callback(smtpError(535, '5.7.8', 'This account is locked after too many failed logins; ask an administrator to unlock it'));
            if (outcome.status === 'forbidden' && outcome.reason === 'no-role') return callback(smtpError(535, '5.7.8', 'This account may not send mail (it has no sender role)'));
            return callback(smtpError(535, '5.7.8', 'Authentication credentials invalid'));
          }
          if (outcome.status !== 'invalid') {
            // Temporary, as Postfix's anvil: the client may come back once the budget allows.
            logger.warn({ user: username, ip: session.remoteAddress, status: outcome.status }, 'authentication refused by the login budget');
            const text = outcome.status === 'locked'
              ? `Too many failed logins for this account or from your network; try again in ${waitText(outcome.retryAfterMs)}`
              : `Too many failed logins; wait ${waitText(outcome.retryAfterMs)} before trying again`;
            return callback(smtpError(454, '4.7.0', text));
          }
          logger.warn({ user: username, ip: session.remoteAddress, failures }, 'authentication failed');
          if (failures >= limits.maxAuthFailures) {
            return callback(smtpError(421, '4.7.0', 'Too many failed authentication attempts; closing'));
          }
          callback(smtpError(535, '5.7.8', 'Authentication credentials invalid'));
        })
        .catch((error: Error) => {
          logger.error({ err: error.message }, 'authentication backend failed');
          callback(smtpError(454, '4.7.0', 'Temporary authentication failure; try again later'));
        });
    },

    onMailFrom(address, session, callback) {
      if (submission && !session.user) return callback(smtpError(530, '5.7.0', 'Authentication required'));
      const invalid = address.address ? mailboxRefusal(address.address, { smtpUtf8: smtpUtf8Of(address), role: 'sender' }) : null;
      if (invalid) return callback(toSmtpError(invalid));
      if (!submission) {
        const refusal = checkInboundSender(address.address, options.domains ?? {});
        return callback(refusal ? toSmtpError(refusal) : undefined);
      }
      checkEnvelopeSender(session, address.address, deps.sendersOf).then(
        (refusal) => callback(refusal ? toSmtpError(refusal) : undefined),
        (error: Error) => {
          logger.error({ err: error.message }, 'sender lookup failed');
          callback(smtpError(451, '4.3.0', 'Cannot check the sender address now; try again later'));
        },
      );
    },

    onRcptTo(address, session, callback) {
      const refusal = mailboxRefusal(address.address, { smtpUtf8: smtpUtf8Of(session.envelope.mailFrom), role: 'recipient' });
      if (refusal) return callback(toSmtpError(refusal));
      if (noticeAddress !== undefined && (isNoticeAddress(address.address) || session.envelope.rcptTo.some((r) => isNoticeAddress(r.address)))) {
        // The notice address is answered, the others relayed: one transaction cannot be both.
        // 452 asks the client to send the remaining recipients again in another transaction (RFC 5321 §4.5.3.1.10).
        if (session.envelope.rcptTo.length > 0) return callback(smtpError(452, '4.5.3', 'Send to the notice address in a transaction of its own'));
        if (isNoticeAddress(address.address)) return callback();
      }
      const parsed = parseAddress(address.address);
      if (!parsed || !isRoutableRecipient(address.address)) {
        logger.warn({ ip: session.remoteAddress, role: options.role }, 'refused unroutable recipient');
        return callback(smtpError(submission ? 553 : 554, submission ? '5.1.3' : '5.7.1', submission ? 'Recipient address is not valid (source routes, % and ! are not accepted)' : 'Relay access denied'));
      }
      if (!submission && !localDomains.has(parsed.domain)) {
        logger.warn({ ip: session.remoteAddress, domain: parsed.domain }, 'relay attempt refused');
        return callback(smtpError(554, '5.7.1', 'Relay access denied'));
      }
      if (!recipientVerifier) return callback();
      recipientVerifier.check(address.address, session.id).then(
        (refusal) => callback(refusal ? toSmtpError(refusal) : undefined),
        (error: Error) => {
          logger.error({ err: error.message }, 'recipient check failed');
          callback(smtpError(450, '4.1.1', 'Recipient address rejected: cannot check the mailbox now; try again later'));
        },
      );
    },

    onData(stream, session, callback) {
      if (session.envelope.rcptTo.length === 1 && isNoticeAddress(session.envelope.rcptTo[0].address)) {
        answerNoticeMail(stream, session, callback);
        return;
      }
      const envelope: Envelope = {
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        recipients: session.envelope.rcptTo.map((r) => ({ address: r.address, notify: notifyOf(r), orcpt: r.dsn?.orcpt })),
        requireTls: session.envelope.requireTLS === true,
        smtpUtf8: smtpUtf8Of(session.envelope.mailFrom),
        bodyType: session.envelope.bodyType?.toUpperCase() === '8BITMIME' ? '8BITMIME' : '7BIT',
        dsnRet: (session.envelope.dsn?.ret?.toUpperCase() as 'FULL' | 'HDRS' | undefined) ?? undefined,
        dsnEnvid: session.envelope.dsn?.envid ?? undefined,
        authUser: typeof session.user === 'string' ? session.user : undefined,
        requiredLevel: submission ? userStanding.get(session.id)?.requiredLevel : undefined,
        pickup:
          submission && typeof session.user === 'string' && (userStanding.get(session.id)?.pickupAlways || options.pickupAlways?.includes(session.user.toLowerCase()))
            ? true
            : undefined,
        clientIp: session.remoteAddress,
        origin: submission ? 'submitted' : 'inbound',
      };
      const cipher = session.tlsOptions || undefined;
      const now = new Date(deps.clock.now());
      if (submission && (options.anonymous || userStanding.get(session.id)?.anonymous)) {
        // smtp-server names an unresolved client `[ip]`; reverse lookup is off, so a name is rare.
        const reverseName = session.clientHostname && !session.clientHostname.startsWith('[') ? session.clientHostname : undefined;
        envelope.anonymous = { pseudonym: makePseudonym(), helo: session.hostNameAppearsAs || '', ...(reverseName ? { reverseName } : {}) };
      }
      const anonymous = envelope.anonymous;
      const trace = {
        byHost: options.hostname,
        protocol: protocolOf(session),
        tls: cipher ? { version: cipher.version ?? 'TLS', cipher: cipher.standardName ?? cipher.name } : undefined,
        forRecipient: envelope.recipients.length === 1 ? envelope.recipients[0].address : undefined,
        date: now,
      };
      const submitted = submission ? submittedHeaderRewriter(session, envelope, { pickupTag: options.pickupTag, sealSecret: deps.sealSecret, answerRefusal: deps.answerRefusal }) : undefined;
      const ingress = new IngressStream({
        maxMessageBytes: limits.maxMessageBytes,
        maxTextLineBytes: limits.maxTextLineBytes,
        maxReceivedHeaders: limits.maxReceivedHeaders,
        traceHeader: anonymous
          ? formatAnonymousReceivedHeader({ ...trace, pseudonym: anonymous.pseudonym })
          : formatReceivedHeader({ ...trace, fromHelo: session.hostNameAppearsAs || 'unknown', fromIp: session.remoteAddress, authenticatedAs: envelope.authUser }),
        eightBit: envelope.bodyType === '8BITMIME' || envelope.smtpUtf8,
        completeHeaders: submission,
        hostname: options.hostname,
        now,
        // Only an authenticated sender of ours may set a requirement for its own message.
        onRequirement: submission ? (level) => (envelope.requiredLevel = strongest(envelope.requiredLevel, level)) : undefined,
        onTlsOptional: () => (envelope.tlsOptional = true),
        pickupTag: options.pickupTag,
        onPickup: submission && options.pickupTag ? () => (envelope.pickup = true) : undefined,
        rewriteHeaders: submitted
          ? anonymous
            ? anonymousHeaderRewriter(submitted, { client: { ip: session.remoteAddress, helo: anonymous.helo, reverseName: anonymous.reverseName }, stripHeaders: options.anonymityStripHeaders, hostname: options.hostname, senderDomains: envelope.mailFrom.includes('@') ? [envelope.mailFrom.slice(envelope.mailFrom.lastIndexOf('@') + 1)] : [] })
            : submitted
          : inboundHeaderRewriter(options.hostname, logger),
      });
      let finished = false;
      // On any failure keep reading the client's data (smtp-server replies at its end) but
      // stop feeding the queue, which then aborts without committing.
      const drain = () => {
        stream.unpipe(ingress);
        stream.resume();
      };
      ingress.on('error', drain);
      stream.pipe(ingress);
      // Submitted mail may become a pickup: a tree too deep to convert is refused here, at once.
      // Inbound: DKIM/SPF/DMARC/ARC see the message as received; the end-to-end step comes last
      // before the queue, after anything that must see it as it came.
      // A decrypted body is not the one the ARC set's message signature covers: the set goes, the verdict stays.
      const e2e = submission ? undefined : deps.inboundE2e?.begin(envelope.recipients.map((r) => r.address), now, limits.maxMessageBytes, {
        decrypted: (kind) => {
          envelope.decrypted = kind;
          if (envelope.authHeaders) envelope.authHeaders = withoutArcSet(envelope.authHeaders);
        },
      });
      const chain = (from: Readable, to: Transform): Transform => {
        from.on('error', (error) => to.destroy(error));
        return from.pipe(to);
      };
      let body: Readable = ingress;
      if (submission) body = chain(ingress, new MimeDepthLimit(limits.maxMimeDepth ?? 20));
      else {
        if (deps.inboundAuth) body = chain(body, deps.inboundAuth(envelope, { ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', mailFrom: envelope.mailFrom }));
        if (e2e) body = chain(body, e2e.stream);
      }
      if (body !== ingress) body.on('error', drain);
      deps
        .ingest(envelope, body)
        .then(({ id }) => {
          finished = true;
          e2e?.accepted();
          logger.info({ messageId: id, ip: session.remoteAddress, user: envelope.authUser, recipients: envelope.recipients.length, tls: session.secure, ...(anonymous ? { pseudonym: anonymous.pseudonym } : {}) }, 'message accepted');
          callback(null, `2.0.0 Ok: queued as ${id}`);
        })
        .catch((error: unknown) => {
          if (finished) return;
          e2e?.refused();
          drain();
          const mailError = isMailError(error) ? error : new MailError(451, '4.3.0', 'Local error in processing; try again later', 'smtp', { cause: error });
          logger.warn({ ip: session.remoteAddress, code: mailError.code, enhanced: mailError.enhanced, reason: mailError.message }, 'message refused');
          callback(toSmtpError(mailError));
        });
    },
  });
  /**
   * Mail to the notice address: only its header block is read (to see whether it is itself
   * automatic), the body is read and dropped, nothing is queued but the answer.
   */
  function answerNoticeMail(stream: Readable & { sizeExceeded?: boolean }, session: SMTPServerSession, callback: (error?: Error | null, message?: string) => void): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      if (bytes < NOTICE_REPLY_HEADER_BYTES) chunks.push(chunk.subarray(0, NOTICE_REPLY_HEADER_BYTES - bytes));
      bytes += chunk.length;
    });
    stream.once('end', () => {
      if (stream.sizeExceeded) return callback(smtpError(552, '5.3.4', `Message exceeds the size limit of ${limits.maxMessageBytes} bytes`));
      const head = Buffer.concat(chunks);
      const end = splitHeaderBlock(head)?.headerEnd ?? head.length;
      const reply: NoticeReply = {
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        headers: parseHeaders(head.subarray(0, end).toString('utf8')),
        clientIp: session.remoteAddress,
      };
      deps.answerNoticeReply!(reply).then(
        (outcome) => {
          logger.info({ ip: session.remoteAddress, outcome }, 'mail to the notice address');
          callback(null, outcome === 'answered'
            ? '2.0.0 Ok: nobody reads this address; the sender is told how to reply securely'
            : '2.0.0 Ok: nobody reads this address; the mail was discarded');
        },
        (error: Error) => {
          logger.error({ err: error.message }, 'answer to a mail to the notice address failed');
          callback(smtpError(451, '4.3.0', 'Local error in processing; try again later'));
        },
      );
    });
  }

  const sessionLimits = limitSessions(server as unknown as { connections: Set<unknown> }, {
    role: options.role,
    maxCommandsPerMinute: limits.maxCommandsPerMinute,
    greetingDelayMs: limits.greetingDelayMs,
    idleTimeoutMs: limits.idleTimeoutMs,
    preMailIdleTimeoutMs: Math.min(limits.preMailIdleTimeoutMs ?? 30_000, limits.idleTimeoutMs),
    preMailSessionTimeoutMs: limits.preMailSessionTimeoutMs ?? 120_000,
    minRateBytes: limits.minRateBytes ?? 512,
    minDataRateBytesPerSecond: limits.minDataRateBytesPerSecond ?? 500,
    minDataRateWindowMs: limits.minDataRateWindowMs ?? 10_000,
  });
  handshakes = options.implicitTls
    ? guardHandshakes(server, { maxPerNetwork: limits.maxConnectionsPerIp, deadlineMs: Math.min(limits.preMailIdleTimeoutMs ?? 30_000, limits.idleTimeoutMs) })
    : undefined;
  server.on('error', (error: Error) => logger.warn({ err: error.message }, 'smtp session error'));

  return {
    name: `smtp-${options.role}-${options.port}`,
    start: () =>
      new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.server.once('error', onError);
        server.listen(options.port, options.host, () => {
          server.server.removeListener('error', onError);
          resolve();
        });
      }),
    stop: () => new Promise<void>((resolve) => {
      sessionLimits.stop();
      server.close(() => resolve());
    }),
    listening: () => server.server.listening,
    address() {
      const info = server.server.address() as AddressInfo;
      return { host: info.address, port: info.port };
    },
  };
}

/** Header fields (CRLF-terminated, folded lines kept with their field) without the ARC set's three. */
export function withoutArcSet(fields: string): string {
  return fields.split(/(?<=\r\n)(?![ \t])/).filter((field) => !/^ARC-(Seal|Message-Signature|Authentication-Results)\s*:/i.test(field)).join('');
}
