import type { Generated, Kysely } from 'kysely';

/** Row types shared by both dialects. Times are epoch milliseconds. */
export interface MessagesTable {
  id: string;
  mail_from: string;
  /** JSON: the kernel Envelope minus recipients. */
  envelope: string;
  size: number;
  /** Id of the encrypted body file, when the body is too large to sit in the row. */
  blob: string | null;
  /** The encrypted body itself (vault format), for small messages. */
  body: Buffer | null;
  created_at: number;
  delay_notice_sent: number;
  done_at: number | null;
}

export interface RecipientsTable {
  id: Generated<number>;
  message_id: string;
  address: string;
  domain: string;
  notify: string | null;
  orcpt: string | null;
  /** queued | leased | delivered | failed */
  state: string;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  /** The lease holding this recipient (state `leased`); a settle must name it. */
  lease_token: string | null;
  last_reply: string | null;
  updated_at: number;
  /** Set by `queue hold` (database clock): not leased until `queue release` clears it. */
  held_at: number | null;
}

export interface ReceiptsTable {
  id: Generated<number>;
  message_id: string;
  recipient_id: number;
  at: number;
  mx_host: string | null;
  ip: string | null;
  port: number | null;
  tls_version: string | null;
  cipher: string | null;
  cert_subject: string | null;
  cert_verified: number;
  reply: string;
  outcome: string;
  /** Migration 0028: the route the recipient got and why (DeliveryReceipt.route/routeReason). */
  route: string | null;
  route_reason: string | null;
  /** Migration 0034 (issue 12): SHA-256 of the DATA bytes sent and of the server's certificate. */
  message_sha256: string | null;
  cert_fingerprint: string | null;
  /** Migration 0034: the envelope as signed (null on older rows: read it from messages/recipients). */
  mail_from: string | null;
  recipient: string | null;
  /** Migration 0034: the signed receipt (canonical JSON) and its base64 Ed25519 signature; final outcomes only. */
  signed: string | null;
  signature: string | null;
}

export interface UsersTable {
  username: string;
  password_hash: string;
  created_at: number;
  disabled: number;
  /** The weakest link this user's mail may take (a LinkRequirement), or null. */
  required_level: string | null;
  /** 1: every message this user submits becomes a Secure Message Pickup. */
  pickup_always: number;
  /** 1: every message this user submits is anonymous (`sealgate user anonymous`). */
  anonymous: number;
  /** Set by an admin (`sealgate user lock`): no login on any protocol until unlocked. */
  locked_at: number | null;
}

/** A job that runs once per interval across the cluster (store/scheduled-jobs.ts). */
export interface ScheduledJobsTable {
  name: string;
  last_started_at: number;
  owner: string | null;
}

export interface UserRolesTable {
  username: string;
  /** admin | sender | auditor */
  role: string;
  granted_at: number;
}

/** A user's TOTP secret (sealed under the master key); required once `enabled_at` is set. */
export interface UserTotpTable {
  username: string;
  secret: string;
  enabled_at: number | null;
  /** The last time step a code was accepted for: each step is good once. */
  last_step: number | null;
}

export interface UserRecoveryCodesTable {
  username: string;
  /** SHA-256 of the normalised code (the code itself has ≈60 random bits). */
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

export interface AppPasswordsTable {
  id: string;
  username: string;
  label: string;
  password_hash: string;
  created_at: number;
  last_used_at: number | null;
}

/** The emergency access credential (accounts/break-glass.ts): its hash, and its one use. */
export interface BreakGlassCredentialsTable {
  id: string;
  secret_hash: string;
  created_at: number;
  used_at: number | null;
  used_ip: string | null;
  /** A newer credential replaced it before it was used. */
  replaced_at: number | null;
}

/** An extra sender address (`local@domain`, lower case) or a whole domain (`@domain`) a user may send as. */
export interface UserAliasesTable {
  username: string;
  address: string;
  created_at: number;
}

export interface LinkSecurityTable {
  domain: string;
  mx_host: string;
  ip: string | null;
  starttls: number;
  tls_version: string | null;
  cipher: string | null;
  cert_subject: string | null;
  cert_valid: number;
  cert_error: string | null;
  requiretls: number;
  error: string | null;
  level: string;
  seen_at: number;
  expires_at: number;
  mta_sts: string | null;
  dane: string | null;
}

/** The audit chain (src/audit): append-only, each row linked to the one before by hash. */
export interface AuditEventsTable {
  seq: number;
  at: number;
  node: string;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  protocol: string | null;
  /** Canonical JSON of the event's further facts. */
  detail: string;
  prev_hash: string;
  hash: string;
}

/** Signed chain heads (src/audit/checkpoint.ts). */
export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  at: number;
  signature: string;
  public_key: string;
}

export interface LinkPinsTable {
  domain: string;
  min_level: string;
  note: string | null;
  created_at: number;
}

export interface SettingsTable {
  name: string;
  value: string;
}

export interface MessageChunksTable {
  message_id: string;
  seq: number;
  data: Buffer;
  created_at: number;
}

/** A queued body's data key, sealed under the master key; deleted when the message is done. */
export interface MessageKeysTable {
  message_id: string;
  sealed: Buffer;
  created_at: number;
}

export interface MtaStsPoliciesTable {
  domain: string;
  /** The `id=` of the `_mta-sts` TXT record the policy was fetched for. */
  policy_id: string;
  mode: string;
  /** JSON array of the policy's `mx:` patterns. */
  mx: string;
  /** Seconds, as the policy says (capped at 31557600). */
  max_age: number;
  fetched_at: number;
  expires_at: number;
}

/** A Secure Message Pickup message (docs/architecture.md §5). Content and subject are sealed under its DEK. */
export interface PickupMessagesTable {
  id: string;
  sender: string;
  recipient: string;
  subject_sealed: Buffer;
  created_at: number;
  expires_at: number;
  /** active | retracted | expired | deleted | locked */
  state: string;
  /** link | passphrase | question | code */
  verification: string;
  question: string | null;
  secret_salt: Buffer | null;
  wrapped_dek: Buffer;
  /** Sealed by the vault master key; null once retracted or expired (crypto-shredding). */
  server_share_wrapped: Buffer | null;
  failed_attempts: number;
  opened_at: number | null;
  /** 1 when the sender asked for a read notice on first open. */
  read_notice: number;
  /** HMAC of the message password under the server share; null on messages sealed before 0013. */
  password_check?: Buffer | null;
  /** When the first browser was bound to this copy (pickup/browser-binding.ts); null before. */
  bound_at?: number | null;
  /** Subject and attachment names for the sender's console, sealed under a key from the server share (0019); null once withdrawn or on older rows. */
  sender_view_sealed?: Buffer | null;
  /** The messages composed together (one compose, or one submitted message) share it; null: the message stands alone. */
  composition_id?: string | null;
  /** The first message of the thread this one continues (a sender's reply to a secure reply); null: it starts its own. */
  thread_id?: string | null;
}

/** A browser bound to one recipient copy: the SHA-256 of its cookie token, never the token. */
export interface PickupBindingsTable {
  token_hash: string;
  message_id: string;
  created_at: number;
  last_used_at: number;
}

export interface PickupPartsTable {
  message_id: string;
  idx: number;
  /** text | html | attachment */
  kind: string;
  filename_sealed: Buffer | null;
  content_type: string;
  /** Plaintext bytes. */
  size: number;
  /** The sealed content itself when small; null when it sits in a file or pickup_chunks. */
  data: Buffer | null;
  /** 1 when the sealed content is stored outside the row. */
  external: number;
}

/** Sealed content of large parts on PostgreSQL, so every cluster node can serve it. */
export interface PickupChunksTable {
  message_id: string;
  idx: number;
  seq: number;
  data: Buffer;
}

export interface PickupEventsTable {
  id: Generated<number>;
  message_id: string;
  at: number;
  kind: string;
  ip: string | null;
  detail: string | null;
}

/** The one-time code of a message (HMAC under a server key, never the code itself). */
/** Attempt budget of one key (src/accounts/login-budget.ts). */
export interface LoginBudgetsTable {
  key: string;
  /** Failures in the window, counting attempts reserved and not yet refunded. */
  failures: number;
  window_start: number;
  /** No attempt before this time (the delay after the last failure). */
  next_at: number;
  /** After this the row means nothing and is swept. */
  expires_at: number;
}

/** One e-mailed one-time code; several may be live at once. */
export interface PickupCodeIssuesTable {
  id: Generated<number>;
  message_id: string;
  code_hash: Buffer;
  issued_at: number;
  expires_at: number;
}

/** A portal session (recipient of one pickup message, or a console sender). */
export interface WebSessionsTable {
  /** SHA-256 of the cookie's token (base64url): the token itself is never stored. */
  id: string;
  /** recipient | sender */
  kind: string;
  /** The pickup message id (recipient) or the user name (sender). */
  subject: string;
  /** Recipient sessions: the message's read key sealed under a key derived from the token. */
  sealed: Buffer | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  /** This session's idle limit (the strictest of its user's roles); null: web.idleTimeoutMs. */
  idle_ms: number | null;
  /** Where and with what it signed in, for the sessions list (sender sessions only). */
  ip: string | null;
  user_agent: string | null;
}

/** A recipient's reply: a pickup message of its own, its password sealed by the vault for the sender. */
export interface PickupRepliesTable {
  reply_id: string;
  message_id: string;
  password_sealed: Buffer;
  created_at: number;
}

/** TLS-RPT (RFC 8460) session counts per UTC day and applied policy. */
export interface TlsrptCountsTable {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  policy_domain: string;
  /** sts | tlsa | no-policy-found */
  policy_type: string;
  /** SHA-256 of the policy string: the policy text can be too long for a key. */
  policy_hash: string;
  /** The MX a TLSA policy belongs to; '' for the other policy types. */
  mx_host: string;
  /** JSON array of the policy's lines or TLSA records. */
  policy_string: string;
  success_count: number;
  failure_count: number;
}

/** TLS-RPT failure details; '' stands for an unknown IP or MX (key columns cannot be null). */
export interface TlsrptFailuresTable {
  day: string;
  policy_domain: string;
  policy_type: string;
  policy_hash: string;
  mx_host: string;
  result_type: string;
  sending_ip: string;
  receiving_mx: string;
  receiving_ip: string;
  /** The latest failure-reason-code text seen for this row. */
  reason_code: string | null;
  count: number;
}

export interface TlsrptSentTable {
  day: string;
  policy_domain: string;
  sent_at: number;
}

/** One of our users' end-to-end keys (migration 0026): the private part only as the vault sealed it. */
export interface E2eUserKeysTable {
  id: Generated<number>;
  kind: 'openpgp' | 'smime';
  address: string;
  fingerprint: string;
  /** OpenPGP: the binary public certificate; S/MIME: the DER certificate. */
  public_data: Uint8Array;
  /** Vault-sealed: OpenPGP binary secret key; S/MIME JSON {key: PKCS#8 base64, chain: DER base64[]}. */
  private_sealed: Uint8Array;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

/** A correspondent's public key or certificate and where it came from (migration 0026). */
export interface E2ePeerKeysTable {
  id: Generated<number>;
  kind: 'openpgp' | 'smime';
  address: string;
  fingerprint: string;
  data: Uint8Array;
  source: 'wkd' | 'autocrypt' | 'keyserver' | 'harvested' | 'imported';
  /** The key's own creation time (OpenPGP) or notBefore (X.509): "newer" compares this. */
  key_created_at: number;
  expires_at: number | null;
  first_seen: number;
  last_seen: number;
  /** Past this the source must be asked again before the key is used; null: until expiry. */
  trusted_until: number | null;
  state: 'active' | 'superseded' | 'revoked';
}

/** Autocrypt Level 1 peer state (Autocrypt spec §2.3), one row per sender address. */
export interface E2eAutocryptPeersTable {
  address: string;
  last_seen: number;
  autocrypt_timestamp: number | null;
  public_key: Uint8Array | null;
  prefer_encrypt: 'mutual' | 'nopreference';
}

/** A signed inbound message seen: SHA-256 of signer key, Message-ID and signing time (src/e2e/replay.ts). */
export interface E2eReplaySeenTable {
  digest: string;
  seen_at: number;
  /** Kept until then; a copy arriving later is no longer recognised. */
  expires_at: number;
}

/** A discovery answer (WKD, keyserver), found or not, until it expires. */
export interface E2eDiscoveryCacheTable {
  /** `wkd:<address>` or `keyserver:<address>`. */
  lookup: string;
  result: Uint8Array | null;
  detail: string;
  fetched_at: number;
  expires_at: number;
}

/** Outbound DKIM keys (auth/keys.ts): the current ones of a domain have no retired_at. */
export interface DkimKeysTable {
  domain: string;
  selector: string;
  /** ed25519 | rsa */
  algorithm: string;
  private_sealed: Uint8Array;
  /** The DNS record's `p=` value. */
  public_key: string;
  created_at: number;
  retired_at: number | null;
}

export interface Database {
  dkim_keys: DkimKeysTable;
  e2e_user_keys: E2eUserKeysTable;
  e2e_peer_keys: E2ePeerKeysTable;
  e2e_autocrypt_peers: E2eAutocryptPeersTable;
  e2e_discovery_cache: E2eDiscoveryCacheTable;
  e2e_replay_seen: E2eReplaySeenTable;
  audit_events: AuditEventsTable;
  audit_checkpoints: AuditCheckpointsTable;
  message_chunks: MessageChunksTable;
  message_keys: MessageKeysTable;
  mta_sts_policies: MtaStsPoliciesTable;
  pickup_messages: PickupMessagesTable;
  pickup_parts: PickupPartsTable;
  pickup_chunks: PickupChunksTable;
  pickup_events: PickupEventsTable;
  pickup_code_issues: PickupCodeIssuesTable;
  pickup_bindings: PickupBindingsTable;
  login_budgets: LoginBudgetsTable;
  pickup_replies: PickupRepliesTable;
  web_sessions: WebSessionsTable;
  link_security: LinkSecurityTable;
  messages: MessagesTable;
  recipients: RecipientsTable;
  receipts: ReceiptsTable;
  users: UsersTable;
  user_aliases: UserAliasesTable;
  user_roles: UserRolesTable;
  user_totp: UserTotpTable;
  user_recovery_codes: UserRecoveryCodesTable;
  app_passwords: AppPasswordsTable;
  break_glass_credentials: BreakGlassCredentialsTable;
  scheduled_jobs: ScheduledJobsTable;
  settings: SettingsTable;
  link_pins: LinkPinsTable;
  tlsrpt_counts: TlsrptCountsTable;
  tlsrpt_failures: TlsrptFailuresTable;
  tlsrpt_sent: TlsrptSentTable;
}

export type Db = Kysely<Database>;

/**
 * Engine differences live here and nowhere else (Kysely's DialectAdapter.supports* idea).
 */
export interface StoreCapabilities {
  dialect: 'sqlite' | 'postgres';
  /** `FOR UPDATE SKIP LOCKED` for concurrent lease takers across nodes. */
  skipLocked: boolean;
  /** Large bodies in the database (shared by every node) rather than in local files. */
  bodiesInDatabase: boolean;
  /**
   * Lease and due times come from the database's clock (`now()`), not each node's: nodes of
   * a cluster disagree about the time. SQLite is opened by one host, so its clock is the one.
   */
  databaseClock?: boolean;
  /** Type of an auto-increment integer key in DDL. */
  serialType: 'integer' | 'serial';
}

export interface Store {
  db: Db;
  capabilities: StoreCapabilities;
  close(): Promise<void>;
  /**
   * Called after secrets were deleted: makes the deletion reach the files soon (SQLite: a
   * TRUNCATE checkpoint, so old WAL frames go). Absent where the engine offers no such step.
   */
  scrub?(): void;
}
