import { canonicalDomain } from '../mail/index.ts';
import { z } from 'zod';

/**
 * Domain-keyed tables are looked up by the A-label form (mail/address.ts canonicalDomain):
 * `Bücher.example` in the config must match mail to xn--bcher-kva.example, and the reverse.
 */
function byCanonicalDomain<T>(table: Record<string, T>): Record<string, T> {
  // fromEntries defines own properties: a `__proto__` key cannot reach the prototype.
  return Object.fromEntries(Object.entries(table).map(([name, value]) => [canonicalDomain(name), value]));
}

const listener = (port: number) =>
  z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(port),
      enabled: z.boolean().default(true),
    })
    .prefault({});

const tlsPolicy = z.enum(['opportunistic', 'required', 'verified']);

/** One typed config; defaults live here so `sealgate serve` runs with no file at all. */
export const configSchema = z.strictObject({
  hostname: z.string().min(1).default('sealgate.localhost'),
  dataDir: z.string().default('./data'),
  store: z
    .strictObject({
      /** `sqlite:<path>` (default: <dataDir>/sealgate.db) or `postgres://…` */
      url: z.string().optional(),
    })
    .prefault({}),
  vault: z
    .strictObject({
      /** Default: <dataDir>/master.key, created by `sealgate init` with mode 0600. */
      masterKeyFile: z.string().optional(),
    })
    .prefault({}),
  tls: z
    .strictObject({
      /** PEM files; when absent a self-signed certificate is made at first start. */
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
    })
    .prefault({}),
  listeners: z
    .strictObject({
      inbound: listener(2525),
      submission: listener(2587),
      submissionTls: listener(2465),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxMessageBytes: z.number().int().min(1).default(50 * 1024 * 1024),
      maxRecipients: z.number().int().min(1).default(100),
      maxCommandLineBytes: z.number().int().min(512).default(512),
      maxTextLineBytes: z.number().int().min(1000).default(1000),
      maxReceivedHeaders: z.number().int().min(1).default(50),
      maxConnectionsPerIp: z.number().int().min(1).default(20),
      maxCommandsPerMinute: z.number().int().min(1).default(600),
      idleTimeoutMs: z.number().int().min(1).default(300_000),
      sessionTimeoutMs: z.number().int().min(1).default(1_800_000),
      maxAuthFailures: z.number().int().min(1).default(3),
      maxUnauthenticatedCommands: z.number().int().min(1).default(20),
      /**
       * Deepest MIME nesting accepted on submission (multipart inside multipart …); deeper
       * mail is refused at DATA with 554 5.6.0 rather than failing pickup conversion later.
       * 20, below Postfix's mime_nesting_limit (100): real mail nests a handful of levels
       * (a forward of a forward with alternatives and attachments), and every level is a
       * recursion in the pickup's MIME parser and a frame in the portal's part list.
       */
      maxMimeDepth: z.number().int().min(1).max(1000).default(20),
      /** Pause before the greeting to catch clients that talk first; 0 = greet at once. */
      greetingDelayMs: z.number().int().min(0).max(30_000).default(0),
      /** SMTP connections over all listeners of a node; inbound may use all but `reservedSubmissionConnections`. */
      maxConnections: z.number().int().min(1).default(1000),
      reservedSubmissionConnections: z.number().int().min(0).default(100),
      /** Idle limit before MAIL (inbound) or AUTH (submission); `idleTimeoutMs` applies after. */
      preMailIdleTimeoutMs: z.number().int().min(1).default(30_000),
      /** Whole time a session may take before its first MAIL (inbound) or AUTH (submission). */
      preMailSessionTimeoutMs: z.number().int().min(1).default(120_000),
      /** The idle timers move only with a complete line or this many bytes (a minimum data rate). */
      minRateBytes: z.number().int().min(1).default(512),
      /**
       * Minimum average rate of a DATA body, measured over each `minDataRateWindowMs` (the
       * first window is the grace period): a slower upload ends with 421 4.4.2 and nothing is
       * queued. Postfix `smtpd_min_data_rate` (3.7+), whose default of 500 bytes/s this is.
       */
      minDataRateBytesPerSecond: z.number().int().min(1).default(500),
      minDataRateWindowMs: z.number().int().min(100).default(10_000),
    })
    .prefault({}),
  /** Domains the inbound listener accepts mail for, each relayed to its smarthost. */
  domains: z
    .record(
      z.string(),
      z.strictObject({
        smarthost: z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port'),
        /**
         * The domain's mailboxes (local parts or full addresses, any case), checked at RCPT
         * time; unknown ones get 550 5.1.1 (Postfix relay_recipient_maps). postmaster is always accepted.
         */
        recipients: z.array(z.string().min(1)).optional(),
        /**
         * How inbound recipients are verified at RCPT: `list` (the recipients above),
         * `callout` (a cached RCPT probe to the smarthost, Postfix reject_unverified_recipient)
         * or `off` (accept every local part: invites backscatter). Default: `list` when
         * recipients is set, else `callout`.
         */
        verifyRecipients: z.enum(['list', 'callout', 'off']).optional(),
        /**
         * Accept inbound (unauthenticated) mail whose MAIL FROM is in this domain, e.g. from
         * a mailing list or an outside service sending as the domain. Default: refused with
         * 550 5.7.1, as the domain's own users submit with authentication.
         */
        allowExternalSenders: z.boolean().default(false),
      }),
    )
    .default({})
    .transform(byCanonicalDomain),
  /** The RCPT probes behind `domains.<d>.verifyRecipients = callout`. */
  recipientVerification: z
    .strictObject({
      /** How long a mailbox the smarthost accepted stays known (Postfix: address_verify_positive_expire_time). */
      positiveTtlMs: z.number().int().min(1).default(24 * 3_600_000),
      /** How long a mailbox the smarthost refused stays unknown (Postfix: address_verify_negative_expire_time). */
      negativeTtlMs: z.number().int().min(1).default(3_600_000),
      /** Connect and per-command timeout of one probe; past it the client gets 450 4.1.1. */
      probeTimeoutMs: z.number().int().min(100).default(10_000),
      /** Most addresses remembered; the oldest are forgotten first. */
      maxCached: z.number().int().min(1).default(100_000),
      /**
       * Probes in flight on this node (identical addresses share one); past it RCPT gets
       * 450 4.4.5 (RFC 3463 system congestion) instead of opening ever more smarthost connections.
       */
      maxConcurrentProbes: z.number().int().min(1).default(10),
      /** Unique addresses one client connection may have probed; later ones get 450 4.4.5. */
      maxRcptProbesPerSession: z.number().int().min(1).default(20),
    })
    .prefault({}),
  delivery: z
    .strictObject({
      dnsServers: z.array(z.string()).default([]),
      /**
       * Validating resolvers (`ip` or `ip:port`) whose DNSSEC AD bit is trusted: name only a
       * resolver on this host or one reached over a trusted link. DANE is used only when set.
       */
      dnssecResolvers: z.array(z.string()).default([]),
      mtaSts: z
        .strictObject({
          /** Look up and apply the destination's MTA-STS policy (RFC 8461). */
          enabled: z.boolean().default(true),
          /** HTTPS port of policy hosts; 443 except in tests. */
          port: z.number().int().min(1).max(65535).default(443),
        })
        .prefault({}),
      /** Destination SMTP port; 25 except in tests. */
      port: z.number().int().min(1).max(65535).default(25),
      concurrency: z.number().int().min(1).default(20),
      perDomainConcurrency: z.number().int().min(1).default(10),
      connectTimeoutMs: z.number().int().min(1).default(30_000),
      commandTimeoutMs: z.number().int().min(1).default(300_000),
      defaultTlsPolicy: tlsPolicy.default('opportunistic'),
      tlsPolicies: z.record(z.string(), tlsPolicy).default({}).transform(byCanonicalDomain),
      /** Extra CA certificates (PEM files) trusted for `verified`, beside the system store. */
      extraCaFiles: z.array(z.string()).default([]),
      ipFamilies: z.array(z.union([z.literal(4), z.literal(6)])).default([4, 6]),
      /**
       * Run delivery in its own thread (its own core and store connection): about 20% more
       * relay throughput on two cores for about 60 MB more memory (bench/README.md).
       */
      thread: z.boolean().default(false),
    })
    .prefault({}),
  queue: z
    .strictObject({
      /** Delays between attempts (ms); the last repeats until maxAgeMs. */
      retryScheduleMs: z
        .array(z.number().int().min(1))
        .default([60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000, 2 * 3_600_000, 4 * 3_600_000]),
      maxAgeMs: z.number().int().min(1).default(5 * 24 * 3_600_000),
      delayNoticeAfterMs: z.number().int().min(1).default(4 * 3_600_000),
      leaseMs: z.number().int().min(1).default(10 * 60_000),
      pollIntervalMs: z.number().int().min(1).default(1_000),
      /** How often pieces of interrupted body uploads (older than limits.sessionTimeoutMs) are deleted. */
      orphanSweepIntervalMs: z.number().int().min(1).default(10 * 60_000),
      /**
       * Where each queued body's own data key lives, destroyed when the message is done
       * (crypto-shredding). Default: <dataDir>/queue-keys on SQLite; on PostgreSQL the
       * message_keys table unless this names a folder every node mounts.
       */
      keyDir: z.string().optional(),
    })
    .prefault({}),
  /**
   * Login budgets shared by SMTP AUTH and the console (OWASP ASVS L2 V2.2.1): failures per
   * account and per client network (IPv4 address, IPv6 /64) within a window; past `freeAttempts`
   * each attempt waits twice as long as the last, and at the limit the key locks until the window ends.
   */
  login: z
    .strictObject({
      accountMaxFailures: z.number().int().min(1).default(10),
      ipMaxFailures: z.number().int().min(1).default(30),
      windowMs: z.number().int().min(1000).default(15 * 60_000),
      freeAttempts: z.number().int().min(0).default(3),
      baseDelayMs: z.number().int().min(0).default(1_000),
      maxDelayMs: z.number().int().min(0).default(60_000),
    })
    .prefault({}),
  /** The HTTPS portal: Secure Message Pickup for recipients, the console for senders. */
  web: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8443),
      /** Base URL put in notice links; default https://<hostname>:<port>. */
      publicUrl: z.url({ protocol: /^https$/ }).optional(),
      /** Sessions end after this long without a request (idle log-off). */
      idleTimeoutMs: z.number().int().min(10_000).default(15 * 60_000),
      /** PEM files for the portal alone; default tls.certFile / tls.keyFile, else the self-signed certificate. */
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
      /*
       * Slow-HTTP guards (OWASP ASVS 13.x; Apache mod_reqtimeout's header=20 and Node's own
       * 5 s keep-alive): a connection that does not finish its TLS handshake, its headers or
       * its whole request in time is closed, and one address holds at most so many at once.
       */
      /** The request line and headers must arrive within this. */
      headersTimeoutMs: z.number().int().min(100).default(10_000),
      /** The whole request, body included: a 50 MB upload needs about 3.5 Mbit/s; raise it for slow links. */
      requestTimeoutMs: z.number().int().min(100).default(120_000),
      /** An idle keep-alive connection between requests is closed after this. */
      keepAliveTimeoutMs: z.number().int().min(100).default(5_000),
      /** TLS handshake deadline, and how long a new connection may wait before its first request. */
      connectionIdleTimeoutMs: z.number().int().min(100).default(30_000),
      /** Open connections from one address (an IPv6 /64 counts as one); the next is refused. */
      maxConnectionsPerIp: z.number().int().min(1).default(32),
      /** Secure replies one recipient may send to one message in 24 hours (429 beyond). */
      maxRepliesPerDay: z.number().int().min(1).default(20),
    })
    .prefault({}),
  pickup: z
    .strictObject({
      /** A subject tag that makes a submitted message a Secure Message Pickup (removed from the stored subject). */
      subjectTag: z.string().min(1).default('[secure]'),
      /** How recipients prove themselves unless the sender's `Sealgate-Secure` header says otherwise. */
      defaultVerification: z.enum(['link', 'code']).default('code'),
      expiresInDays: z.number().int().min(1).max(3650).default(30),
      /** Tell the sender by e-mail when a recipient first opens a pickup sent over SMTP. */
      readNotice: z.boolean().default(true),
      /** Subject of the notice e-mail: neutral, nothing of the message itself. */
      noticeSubject: z.string().min(1).default('You have a secure message'),
      /** When a required link level (sender, user, pin, REQUIRETLS) cannot be met: pickup instead of a bounce. */
      fallbackOnRequirement: z.boolean().default(true),
      /** "TLS or pickup": destinations whose mail goes to pickup when no MX offers TLS. */
      tlsOrPickupDomains: z.array(z.string()).default([]),
      /** Users whose every message becomes a pickup. */
      alwaysForUsers: z.array(z.string()).default([]),
      /**
       * Server shares, kept outside the database so a database backup cannot open a retracted
       * message (default <dataDir>/pickup-shares). A cluster needs one folder every node mounts.
       */
      shareDir: z.string().optional(),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
