import { canonicalDomain } from '../mail/index.ts';
import { z } from 'zod';
import { brandingSchema } from './branding.ts';
import { e2eSchema } from './e2e.ts';

/**
 * Domain-keyed tables are looked up by the A-label form (mail/address.ts canonicalDomain):
 * `Bücher.example` in the config must match mail to xn--bcher-kva.example, and the reverse.
 */
function byCanonicalDomain<T>(table: Record<string, T>): Record<string, T> {
  // fromEntries defines own properties: a `__proto__` key cannot reach the prototype.
  return Object.fromEntries(Object.entries(table).map(([name, value]) => [canonicalDomain(name), value]));
}

const listenerShape = (port: number) => ({
  host: z.string().default('127.0.0.1').describe('Address to listen on; `0.0.0.0` or `::` for every interface.'),
  port: z.number().int().min(0).max(65535).default(port).describe('TCP port; 0 picks a free one (tests).'),
  enabled: z.boolean().default(true).describe('Set to false to not open this listener at all.'),
});

const listener = (port: number, what: string) => z.strictObject(listenerShape(port)).prefault({}).describe(what);

const tlsPolicy = z
  .enum(['opportunistic', 'required', 'verified'])
  .describe('`opportunistic`: TLS when offered, else plain text; `required`: TLS or no delivery; `verified`: TLS with a certificate that verifies for the MX name.');

/** A submission listener: the common settings and whether every message on it is anonymous. */
const submissionListener = (port: number, what: string) =>
  z
    .strictObject({
      ...listenerShape(port),
      anonymous: z
        .boolean()
        .default(false)
        .describe('Anonymous submission for every user of this listener: our `Received:` line names a per-message pseudonym instead of the client\'s address and names, and the headers of `anonymity` are removed. `sealgate user anonymous NAME on` does the same for one user on any listener.'),
    })
    .prefault({})
    .describe(what);

/** An account role (accounts/roles.ts ROLES; config cannot import accounts, a higher layer). */
const accountRole = z.enum(['admin', 'sender', 'auditor']);

/** The key of a domain-keyed table; `title` names the placeholder in docs/config.md. */
const domainKey = z.string().meta({ title: 'domain' });

/** One typed config; defaults live here so `sealgate serve` runs with no file at all. */
export const configSchema = z.strictObject({
  hostname: z
    .string()
    .min(1)
    .default('sealgate.localhost')
    .describe('This gateway\'s name: the SMTP greeting and EHLO, `Received:` lines, Message-IDs and the self-signed certificate.'),
  dataDir: z.string().default('./data').describe('Folder for the SQLite database, master key, queue keys, pickup shares and the self-signed certificate.'),
  store: z
    .strictObject({
      url: z.string().optional().describe('`sqlite:<path>` (default: <dataDir>/sealgate.db) or `postgres://…` (a cluster: every node names the same database).'),
    })
    .prefault({})
    .describe('Where the queue, accounts, pickups and link-security memory are stored.'),
  vault: z
    .strictObject({
      masterKeyFile: z.string().optional().describe('The master key that wraps every data key. Default: <dataDir>/master.key, created by `sealgate init` with mode 0600.'),
    })
    .prefault({})
    .describe('Encryption at rest.'),
  tls: z
    .strictObject({
      certFile: z.string().optional().describe('PEM certificate chain offered on STARTTLS, port 465 and (unless web.certFile) the portal; when absent a self-signed certificate is made at first start.'),
      keyFile: z.string().optional().describe('PEM private key of `tls.certFile`.'),
    })
    .prefault({})
    .describe('The certificate this gateway presents.'),
  listeners: z
    .strictObject({
      inbound: listener(2525, 'Inbound SMTP (port 25 in production): mail from the Internet for `domains`, no authentication.'),
      submission: submissionListener(2587, 'Submission with STARTTLS and AUTH (port 587 in production): mail from your users.'),
      submissionTls: submissionListener(2465, 'Submission over implicit TLS (port 465 in production).'),
    })
    .prefault({})
    .describe('The SMTP listeners.'),
  anonymity: z
    .strictObject({
      stripHeaders: z
        .array(z.string().regex(/^[\x21-\x39\x3b-\x7e]+$/, 'must be a header field name'))
        .default([])
        .describe('Header fields removed from an anonymous submission besides X-Originating-IP, X-Mailer and User-Agent (always removed), e.g. `X-MimeOLE`, `X-Forwarded-For`. The client\'s own `Received:` lines and any other field naming its address or names (encoded words decoded) go too; a Message-ID naming it, or any host but the sender\'s domain and ours, is replaced.'),
    })
    .prefault({})
    .describe('Anonymous submission (`listeners.submission.anonymous`, `sealgate user anonymous`): the link from pseudonym to client stays in the queue (`sealgate queue show`) and the audit trail, never in the message.'),
  limits: z
    .strictObject({
      maxMessageBytes: z.number().int().min(1).default(50 * 1024 * 1024).describe('Largest message accepted (SIZE, refused with 552 5.3.4).'),
      maxRecipients: z.number().int().min(1).default(100).describe('Recipients per message; further RCPT commands are refused.'),
      maxCommandLineBytes: z.number().int().min(512).default(512).describe('Longest SMTP command line (RFC 5321: 512 octets).'),
      maxTextLineBytes: z.number().int().min(1000).default(1000).describe('Longest line of a message body (RFC 5321: 1000 octets).'),
      maxReceivedHeaders: z.number().int().min(1).default(50).describe('More `Received:` lines than this is a mail loop: refused with 554 5.4.6.'),
      maxConnectionsPerIp: z.number().int().min(1).default(20).describe('Simultaneous SMTP connections from one client address, counted in each listener process (`serve.workers`): with N workers a client may hold up to N times this many.'),
      maxCommandsPerMinute: z.number().int().min(1).default(600).describe('SMTP commands one connection may send per minute.'),
      idleTimeoutMs: z.number().int().min(1).default(300_000).describe('A session without progress for this long is closed (after MAIL or AUTH; see preMailIdleTimeoutMs).'),
      sessionTimeoutMs: z.number().int().min(1).default(1_800_000).describe('Longest an SMTP session may last.'),
      maxAuthFailures: z.number().int().min(1).default(3).describe('Failed AUTH attempts on one connection before it is closed (421 4.7.0); the login budgets count across connections.'),
      maxUnauthenticatedCommands: z.number().int().min(1).default(20).describe('Commands a submission client may send before it authenticates.'),
      maxMimeDepth: z
        .number()
        .int()
        .min(1)
        .max(1000)
        .default(20)
        // 20, below Postfix's mime_nesting_limit (100): every level is a recursion in the
        // pickup's MIME parser and a frame in the portal's part list.
        .describe('Deepest MIME nesting accepted on submission (multipart inside multipart …); deeper mail is refused at DATA with 554 5.6.0 rather than failing pickup conversion later. Real mail nests a handful of levels (a forward of a forward with alternatives and attachments).'),
      greetingDelayMs: z.number().int().min(0).max(30_000).default(0).describe('Pause before the greeting to catch clients that talk first; 0 = greet at once.'),
      maxConnections: z.number().int().min(1).default(1000).describe('SMTP connections over all listeners of a node; inbound may use all but `reservedSubmissionConnections`.'),
      reservedSubmissionConnections: z.number().int().min(0).default(100).describe('Connections of `maxConnections` kept for the submission listeners, so inbound traffic cannot lock your users out.'),
      preMailIdleTimeoutMs: z.number().int().min(1).default(30_000).describe('Idle limit before MAIL (inbound) or AUTH (submission); `idleTimeoutMs` applies after.'),
      preMailSessionTimeoutMs: z.number().int().min(1).default(120_000).describe('Whole time a session may take before its first MAIL (inbound) or AUTH (submission).'),
      minRateBytes: z.number().int().min(1).default(512).describe('The idle timers move only with a complete line or this many bytes (a minimum data rate).'),
      minDataRateBytesPerSecond: z
        .number()
        .int()
        .min(1)
        .default(500)
        .describe('Minimum average rate of a DATA body, measured over each `minDataRateWindowMs` (the first window is the grace period): a slower upload ends with 421 4.4.2 and nothing is queued. Postfix `smtpd_min_data_rate` (3.7+), whose default of 500 bytes/s this is.'),
      minDataRateWindowMs: z.number().int().min(100).default(10_000).describe('The window over which `minDataRateBytesPerSecond` is measured.'),
    })
    .prefault({})
    .describe('SMTP protocol and resource limits of the listeners.'),
  domains: z
    .record(
      domainKey,
      z
        .strictObject({
          smarthost: z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port').describe('`host:port` of the mail server that holds this domain\'s mailboxes; inbound mail and mail between your users is relayed there.'),
          recipients: z
            .array(z.string().min(1))
            .optional()
            .describe('The domain\'s mailboxes (local parts or full addresses, any case), checked at RCPT time; unknown ones get 550 5.1.1 (Postfix relay_recipient_maps). postmaster is always accepted.'),
          verifyRecipients: z
            .enum(['list', 'callout', 'off'])
            .optional()
            .describe('How inbound recipients are verified at RCPT: `list` (the recipients above), `callout` (a cached RCPT probe to the smarthost, Postfix reject_unverified_recipient) or `off` (accept every local part: invites backscatter). Default: `list` when recipients is set, else `callout`.'),
          allowExternalSenders: z
            .boolean()
            .default(false)
            .describe('Accept inbound (unauthenticated) mail whose MAIL FROM is in this domain, e.g. from a mailing list or an outside service sending as the domain. Default: refused with 550 5.7.1, as the domain\'s own users submit with authentication.'),
        })
        .describe('One local domain (Unicode or A-label; both spellings match).'),
    )
    .default({})
    .transform(byCanonicalDomain)
    .describe('Domains the inbound listener accepts mail for, each relayed to its smarthost.'),
  recipientVerification: z
    .strictObject({
      positiveTtlMs: z.number().int().min(1).default(24 * 3_600_000).describe('How long a mailbox the smarthost accepted stays known (Postfix: address_verify_positive_expire_time).'),
      negativeTtlMs: z.number().int().min(1).default(3_600_000).describe('How long a mailbox the smarthost refused stays unknown (Postfix: address_verify_negative_expire_time).'),
      probeTimeoutMs: z.number().int().min(100).default(10_000).describe('Connect and per-command timeout of one probe; past it the client gets 450 4.1.1.'),
      maxCached: z.number().int().min(1).default(100_000).describe('Most addresses remembered; the oldest are forgotten first.'),
      maxConcurrentProbes: z
        .number()
        .int()
        .min(1)
        .default(10)
        .describe('Probes in flight on this node (identical addresses share one); past it RCPT gets 450 4.4.5 (RFC 3463 system congestion) instead of opening ever more smarthost connections.'),
      maxRcptProbesPerSession: z.number().int().min(1).default(20).describe('Unique addresses one client connection may have probed; later ones get 450 4.4.5.'),
    })
    .prefault({})
    .describe('The RCPT probes behind `domains.<domain>.verifyRecipients = callout`.'),
  auth: z
    .strictObject({
      verifyInbound: z
        .boolean()
        .default(false)
        .describe('Check SPF, DKIM, ARC and DMARC of inbound mail at the end of DATA and relay it with one `Authentication-Results` header naming `hostname` (RFC 8601); DMARC `reject` and `quarantine` are acted on as `dmarc` says.'),
      dnsServers: z.array(z.string()).default([]).describe('DNS servers (`ip` or `ip:port`) for the SPF, DKIM and DMARC lookups; empty: `delivery.dnsServers`.'),
      dmarc: z
        .strictObject({
          default: z.enum(['enforce', 'report']).default('enforce').describe('`enforce`: a DMARC `reject` gets 550 5.7.1 at the end of DATA and `quarantine` a `Sealgate-Quarantine` header the mailbox server can file on; `report`: the verdict header only.'),
          domains: z.record(domainKey, z.enum(['enforce', 'report']).describe('`enforce` or `report` for mail to this domain.')).default({}).transform(byCanonicalDomain).describe('Per local (recipient) domain, instead of `default`; a message to several domains is enforced if any of them enforces.'),
        })
        .prefault({})
        .describe('What a failed DMARC check does to inbound mail.'),
      arcSealDomain: z
        .string()
        .optional()
        .describe('ARC-seal (RFC 8617) what is relayed to the mailbox server with this domain\'s RSA DKIM key (`sealgate domain dkim DOMAIN`); unset: no ARC seal.'),
      signOutbound: z
        .boolean()
        .default(true)
        .describe('DKIM-sign outgoing mail (ours and our users\', notices and reports included) whose From: domain has keys (`sealgate domain dkim DOMAIN`), Ed25519 and RSA, as the last step before the body is sent.'),
    })
    .prefault({})
    .describe('Mail authentication (issue 12): inbound verdicts and outbound DKIM signatures.'),
  delivery: z
    .strictObject({
      dnsServers: z.array(z.string()).default([]).describe('DNS servers (`ip` or `ip:port`) for MX, A/AAAA and MTA-STS lookups; empty: the system\'s resolvers.'),
      dnssecResolvers: z
        .array(z.string())
        .default([])
        .describe('Validating resolvers (`ip` or `ip:port`) whose DNSSEC AD bit is trusted: name only a resolver on this host or one reached over a trusted link. DANE is used only when set.'),
      mtaSts: z
        .strictObject({
          enabled: z.boolean().default(true).describe('Look up and apply the destination\'s MTA-STS policy (RFC 8461).'),
          port: z.number().int().min(1).max(65535).default(443).describe('HTTPS port of policy hosts; 443 except in tests.'),
        })
        .prefault({})
        .describe('MTA-STS (RFC 8461): a destination\'s published demand for verified TLS.'),
      port: z.number().int().min(1).max(65535).default(25).describe('Destination SMTP port; 25 except in tests.'),
      concurrency: z.number().int().min(1).default(20).describe('Deliveries in flight on this node.'),
      perDomainConcurrency: z.number().int().min(1).default(10).describe('Deliveries in flight to one destination domain on this node.'),
      connectTimeoutMs: z.number().int().min(1).default(30_000).describe('TCP connect timeout per MX address; past it the next address is tried.'),
      commandTimeoutMs: z.number().int().min(1).default(300_000).describe('Longest wait for one SMTP reply (RFC 5321 §4.5.3.2 suggests 5 minutes for most).'),
      defaultTlsPolicy: tlsPolicy.default('opportunistic').describe('The link every outside destination gets unless `tlsPolicies`, a pin, DANE or MTA-STS demands more.'),
      tlsPolicies: z
        .record(domainKey, tlsPolicy)
        .default({})
        .transform(byCanonicalDomain)
        .describe('Per destination domain, a policy instead of `defaultTlsPolicy` (like Postfix smtp_tls_policy_maps).'),
      extraCaFiles: z.array(z.string()).default([]).describe('Extra CA certificates (PEM files) trusted for `verified`, beside the system store.'),
      ipFamilies: z.array(z.union([z.literal(4), z.literal(6)])).default([4, 6]).describe('Address families used to reach an MX: 4, 6 or both.'),
      thread: z
        .union([z.literal('auto'), z.boolean()])
        .default('auto')
        .describe('Run delivery in its own thread (its own core and store connection). `auto`: in its own thread when `sealgate serve` runs as one process on a machine of two cores or more (about 25% more relay throughput on two cores for about 60 MB more memory, bench/README.md); with listener workers the primary delivers in its main thread, which the listeners leave free.'),
    })
    .prefault({})
    .describe('Outbound delivery to MX hosts and smarthosts.'),
  queue: z
    .strictObject({
      retryScheduleMs: z
        .array(z.number().int().min(1))
        .default([60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000, 2 * 3_600_000, 4 * 3_600_000])
        .describe('Delays between attempts; the last repeats until maxAgeMs.'),
      maxAgeMs: z.number().int().min(1).default(5 * 24 * 3_600_000).describe('A message still undelivered after this long bounces (Postfix maximal_queue_lifetime).'),
      delayNoticeAfterMs: z.number().int().min(1).default(4 * 3_600_000).describe('The sender gets one "delayed" DSN when a message is still queued after this long.'),
      leaseMs: z.number().int().min(1).default(10 * 60_000).describe('How long a node holds a message it is delivering; renewed while it works, so a crashed node\'s messages are taken up by another after this.'),
      pollIntervalMs: z.number().int().min(1).default(1_000).describe('How often the delivery worker looks for due messages.'),
      orphanSweepIntervalMs: z.number().int().min(1).default(10 * 60_000).describe('How often pieces of interrupted body uploads (older than limits.sessionTimeoutMs) are deleted.'),
      keyDir: z
        .string()
        .optional()
        .describe('Where each queued body\'s own data key lives, destroyed when the message is done (crypto-shredding). Default: <dataDir>/queue-keys on SQLite; on PostgreSQL the message_keys table unless this names a folder every node mounts.'),
    })
    .prefault({})
    .describe('The durable encrypted queue and its retries.'),
  login: z
    .strictObject({
      accountMaxFailures: z.number().int().min(1).default(10).describe('Failed logins per account within `windowMs` before it locks.'),
      accountLockAfter: z.number().int().min(1).max(100).default(100).describe('Consecutive failed logins on an account, across windows and protocols, after which it stays locked until an admin unlocks it (`sealgate user unlock`, the admin console); a successful login starts the count again (NIST SP 800-63B 5.2.2: at most 100).'),
      ipMaxFailures: z.number().int().min(1).default(30).describe('Failed logins per client network within `windowMs` before it locks.'),
      windowMs: z.number().int().min(1000).default(15 * 60_000).describe('The window the failures are counted in; a lock by `accountMaxFailures` or `ipMaxFailures` lasts until it ends.'),
      freeAttempts: z.number().int().min(0).default(3).describe('Failures without a wait; each one after waits twice as long as the last.'),
      baseDelayMs: z.number().int().min(0).default(1_000).describe('The first wait after `freeAttempts`.'),
      maxDelayMs: z.number().int().min(0).default(60_000).describe('The longest wait between attempts.'),
      passwordMinLength: z.number().int().min(8).max(64).default(12).describe('Shortest password `user add` and `user passwd` accept (NIST SP 800-63B: no composition rules; passwords on the bundled breach list are refused at any length).'),
      totpRequiredFor: z.array(accountRole).default([]).describe('Roles whose members must have a second factor (TOTP): without one they cannot sign in to the console, and SMTP AUTH takes only app passwords.'),
    })
    .prefault({})
    .describe('Login budgets shared by SMTP AUTH and the console (OWASP ASVS L2 V2.2.1): failures per account and per client network (IPv4 address, IPv6 /64) within a window; past `freeAttempts` each attempt waits twice as long as the last, and at the limit the key locks until the window ends.'),
  web: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Set to false to run without the HTTPS portal (no pickups can be opened).'),
      host: z.string().default('127.0.0.1').describe('Address the portal listens on.'),
      port: z.number().int().min(0).max(65535).default(8443).describe('HTTPS port of the portal.'),
      publicUrl: z.url({ protocol: /^https$/ }).optional().describe('Base URL put in notice links; default https://<hostname>:<port>.'),
      idleTimeoutMs: z.number().int().min(10_000).default(15 * 60_000).describe('Sessions end after this long without a request (idle log-off).'),
      idleTimeoutByRole: z
        .partialRecord(accountRole.meta({ title: 'role' }), z.number().int().min(10_000).describe('Idle log-off in ms for this role.'))
        .default({})
        .describe('A shorter (or longer) idle log-off for console users holding a role, e.g. `{ "admin": 300000 }`; a user with several roles gets the shortest.'),
      consoleSessionLifetimeMs: z.number().int().min(60_000).default(12 * 3_600_000).describe('A console session ends this long after sign-in however active it is (absolute lifetime).'),
      certFile: z.string().optional().describe('PEM certificate for the portal alone; default tls.certFile, else the self-signed certificate.'),
      keyFile: z.string().optional().describe('PEM private key of `web.certFile`; default tls.keyFile.'),
      // Slow-HTTP guards (OWASP ASVS 13.x; Apache mod_reqtimeout's header=20 and Node's own
      // 5 s keep-alive): a connection that does not finish its TLS handshake, its headers or
      // its whole request in time is closed, and one address holds at most so many at once.
      headersTimeoutMs: z.number().int().min(100).default(10_000).describe('The request line and headers must arrive within this.'),
      requestTimeoutMs: z.number().int().min(100).default(120_000).describe('The whole request, body included: a 50 MB upload needs about 3.5 Mbit/s; raise it for slow links.'),
      keepAliveTimeoutMs: z.number().int().min(100).default(5_000).describe('An idle keep-alive connection between requests is closed after this.'),
      connectionIdleTimeoutMs: z.number().int().min(100).default(30_000).describe('TLS handshake deadline, and how long a new connection may wait before its first request.'),
      maxConnectionsPerIp: z.number().int().min(1).default(32).describe('Open connections from one address (an IPv6 /64 counts as one), counted in each listener process (`serve.workers`); the next is refused.'),
      maxRepliesPerDay: z.number().int().min(1).default(20).describe('Secure replies one recipient may send to one message in 24 hours (429 beyond).'),
    })
    .prefault({})
    .describe('The HTTPS portal: Secure Message Pickup for recipients, the console for senders.'),
  pickup: z
    .strictObject({
      subjectTag: z.string().min(1).default('[secure]').describe('A subject tag that makes a submitted message a Secure Message Pickup (removed from the stored subject).'),
      defaultVerification: z.enum(['link', 'code']).default('code').describe('How recipients prove themselves unless the sender\'s `Sealgate-Secure` header says otherwise: `code` (a one-time code by e-mail) or `link` (the link alone).'),
      expiresInDays: z.number().int().min(1).max(3650).default(30).describe('Days until a pickup expires and its server share is destroyed.'),
      readNotice: z.boolean().default(true).describe('Tell the sender by e-mail when a recipient first opens a pickup sent over SMTP.'),
      noticeSubject: z.string().min(1).default('You have a secure message').describe('Subject of the notice e-mail: neutral, nothing of the message itself. `branding.noticeSubject` wins when set.'),
      fallbackOnRequirement: z.boolean().default(true).describe('When a required link level (sender, user, pin, REQUIRETLS) cannot be met: pickup instead of a bounce.'),
      tlsOrPickupDomains: z.array(z.string()).default([]).describe('"TLS or pickup": destinations whose mail goes to pickup when no MX offers TLS.'),
      whenNoTls: z
        .boolean()
        .default(true)
        .describe('Every outside (MX-routed) destination is "TLS or pickup": a submitted message that no MX takes over TLS becomes a pickup instead of going in the clear. `false`: plain MTA behaviour (delivery.defaultTlsPolicy alone decides). Without the portal (web.enabled false) such a message waits for TLS, then bounces.'),
      alwaysForUsers: z.array(z.string()).default([]).describe('Users whose every message becomes a pickup.'),
      shareDir: z
        .string()
        .optional()
        .describe('Server shares, kept outside the database so a database backup cannot open a retracted message (default <dataDir>/pickup-shares). A cluster needs one folder every node mounts.'),
    })
    .prefault({})
    .describe('Secure Message Pickup: messages kept encrypted on the gateway and read in the portal.'),
  branding: brandingSchema,
  retention: z
    .strictObject({
      finishedMessageDays: z.number().int().min(1).max(36_500).default(30).describe('Days the envelope and recipient rows of a finished message stay (`queue show`); its body is deleted when it finishes.'),
      receiptDays: z.number().int().min(1).max(36_500).default(365).describe('Days delivery receipts (MX, TLS, the remote reply) are kept.'),
      pickupDays: z.number().int().min(1).max(36_500).default(90).describe('Days the record of a retracted or expired pickup (recipient, access log) stays after it ended; its content is destroyed at once.'),
      auditDays: z.number().int().min(1).max(36_500).default(2190).describe('Days audit events are kept (2190: six years, the HIPAA documentation period); older ones go behind a signed anchor, so the rest still verifies.'),
      tlsReportDays: z.number().int().min(1).max(36_500).default(30).describe('Days of TLS-RPT counts kept after their report day.'),
      intervalMs: z.number().int().min(60_000).default(3_600_000).describe('How often the purge runs (once across a cluster).'),
    })
    .prefault({})
    .describe('Retention and disposal: how long each kind of data is kept before the purge deletes it.'),
  backup: z
    .strictObject({
      scryptLogN: z.number().int().min(14).max(20).default(17).describe('Cost of the scrypt key derivation that turns the backup passphrase into the archive key: N = 2^scryptLogN (r 8, p 1; 17 takes 128 MiB and about 0.4 s per create, verify or restore). Lower only for tests; a restore reads the cost from the archive.'),
    })
    .prefault({})
    .describe('`sealgate backup create`: how expensive a guess at the backup passphrase is.'),
  serve: z
    .strictObject({
      workers: z
        .union([z.number().int().min(1).max(256), z.literal('auto')])
        .default('auto')
        .describe('Listener processes of `sealgate serve`: each runs the SMTP listeners and the portal on the shared sockets, while one primary process runs delivery, the scheduled jobs and the admin listener. `auto`: one per core (os.availableParallelism()) on PostgreSQL, one process on SQLite (there the primary commits for its workers; on two cores two workers relayed no faster than one process, bench/README.md); 1: everything in one process (no cluster). `--workers N` overrides it. Limits kept in memory count per process: `limits.maxConnectionsPerIp`, `web.maxConnectionsPerIp` and `e2e.inbound.maxBufferedMegabytes` apply to each worker, so a client may get up to N times as much across the gateway.'),
    })
    .prefault({})
    .describe('How `sealgate serve` uses the machine\'s cores.'),
  shutdown: z
    .strictObject({
      deadlineSeconds: z.number().int().min(1).max(3600).default(30).describe('How long SIGTERM waits: SMTP sessions in DATA may finish within the first third (10 s at most), in-flight deliveries within the rest; what is still running then has its leases given back (delivered at the next start or by another node) and the process exits 0. A second SIGTERM does the same at once. Keep systemd\'s TimeoutStopSec above it.'),
    })
    .prefault({})
    .describe('Graceful shutdown on SIGTERM or SIGINT.'),
  ops: z
    .strictObject({
      enabled: z.boolean().default(false).describe('Open the admin listener: `/metrics` (Prometheus text format), `/healthz` and `/readyz` over plain HTTP.'),
      host: z.string().default('127.0.0.1').describe('Address of the admin listener; keep it on loopback or a management network (it needs no login and shows queue and traffic counts).'),
      port: z.number().int().min(0).max(65535).default(9464).describe('TCP port of the admin listener.'),
    })
    .prefault({})
    .describe('Operations: metrics and health checks for Prometheus, systemd or a load balancer.'),
  e2e: e2eSchema,
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Lowest level logged (pino JSON lines).'),
    })
    .prefault({})
    .describe('Logging.'),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
