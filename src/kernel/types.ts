import type { Readable } from 'node:stream';

export interface Clock {
  now(): number; // epoch milliseconds
}

export const systemClock: Clock = { now: () => Date.now() };

/** A long-running part of the process: listeners, workers. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Minimal structured logger (pino satisfies it). Never log bodies, passwords or keys. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: object): Logger;
}

/** TLS policy for a destination domain; MTA-STS and DANE raise it later (linksec). */
export type TlsPolicyMode = 'opportunistic' | 'required' | 'verified';

/** Link levels a sender can require of a message's links (docs/architecture.md §6), weakest first. */
export const LINK_LEVELS = ['none', 'tls', 'tls-verified', 'dane'] as const;
export type LinkRequirement = (typeof LINK_LEVELS)[number];

export function isLinkLevel(value: string): value is LinkRequirement {
  return (LINK_LEVELS as readonly string[]).includes(value);
}

export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface RecipientSpec {
  address: string;
  /** RFC 3461 NOTIFY; undefined means the default (FAILURE, DELAY). */
  notify?: DsnNotify[];
  orcpt?: string;
}

/** The sender's verification choice for Secure Message Pickup (`Sealgate-Secure`). */
export interface PickupControl {
  /** Unset: the site default (pickup.defaultVerification). */
  verification?: 'link' | 'code' | 'passphrase' | 'question';
  question?: string;
  /**
   * The passphrase or answer, sealed by the vault (base64): the envelope row is not
   * encrypted, and this secret is a share of the pickup's key.
   */
  sealedSecret?: string;
}

/**
 * Mail Sealgate writes itself that carries nothing of any message: a pickup notice, a one-time
 * code, a read notice. It never becomes a pickup and goes over the best link the destination
 * offers, never held back by a rule about content (a pin, a sender's requirement, REQUIRETLS).
 */
export interface OwnNotice {
  kind: 'pickup-notice' | 'portal-mail';
  /** The pickup a notice announces: its events record where the notice stands. */
  pickupId?: string;
  /** Who gets the report when the notice cannot be delivered: the pickup's sender. */
  reportTo?: string;
  /** The queued message that was held for pickup (none for a pickup composed in the console). */
  heldMessageId?: string;
}

/** What the queue keeps about a message besides its body. */
export interface Envelope {
  /** Reverse path; '' is the null sender (bounces). */
  mailFrom: string;
  recipients: RecipientSpec[];
  /** RFC 8689 REQUIRETLS was given on MAIL FROM. */
  requireTls: boolean;
  /** A sender's minimum link level (header `Sealgate-Require`, removed before relay). */
  requiredLevel?: LinkRequirement;
  /** RFC 8689 §5 `TLS-Required: No`: the sender waives the destination's published policies. */
  tlsOptional?: boolean;
  /** The sender asked for Secure Message Pickup (subject tag, `Sealgate-Secure` header, user rule). */
  pickup?: boolean;
  smtpUtf8: boolean;
  bodyType: '7BIT' | '8BITMIME' | 'BINARYMIME';
  dsnRet?: 'FULL' | 'HDRS';
  dsnEnvid?: string;
  /** Authenticated submitter (SMTP AUTH user), if any: the owner of any pickup made of it. */
  authUser?: string;
  /**
   * Where the message came from: `submitted` by one of our users (the only mail pickup and the
   * `Sealgate-*` controls act on), `inbound` from a stranger on the MX listener. Messages we
   * make ourselves (notices, reports) carry none; so do ones queued before this field existed.
   */
  origin?: 'submitted' | 'inbound';
  /** Inbound: Sealgate decrypted the message before storing it (the audit's `message.decrypted`). */
  decrypted?: 'openpgp' | 'smime';
  /** The sender's `Sealgate-Encrypt` request (end to end), read at submission; the header is not relayed. */
  encrypt?: 'pgp' | 'smime' | 'auto';
  /** The sender's `Sealgate-Secure` choice, read at submission (the header is not stored). */
  pickupControl?: PickupControl;
  /** Set on our own content-free mail (notices, codes); see OwnNotice. */
  notice?: OwnNotice;
  /** Client address as seen by ingress; for the audit log only. */
  clientIp?: string;
  /**
   * Anonymous submission (issue 12): the pseudonym our Received: line names instead of the
   * client, and what it stands for besides clientIp and authUser. Queue metadata for the
   * admin (`queue show`, the audit trail), never written into the message.
   */
  anonymous?: { pseudonym: string; helo: string; reverseName?: string };
  /**
   * Inbound: our verdict (Authentication-Results, an ARC set, a quarantine mark), CRLF-terminated
   * header fields decided at the end of DATA and prepended when the message is relayed (auth/).
   */
  authHeaders?: string;
  /** Inbound: DMARC says quarantine and enforcement is on; why (the header says so too). */
  quarantine?: string;
}

/** One line of proof per delivery attempt (docs/architecture.md §1: every hand-off leaves a record). */
export interface DeliveryReceipt {
  at: number;
  recipient: string;
  mxHost: string | null;
  ip: string | null;
  port: number | null;
  tlsVersion: string | null;
  cipher: string | null;
  certSubject: string | null;
  /** SHA-256 of the server's certificate (DER, leaf), lowercase hex; absent before issue 12. */
  certFingerprint?: string | null;
  certVerified: boolean;
  /** SHA-256 of the DATA bytes written to the socket (smtp client `data`), lowercase hex. */
  messageSha256?: string | null;
  /** The envelope sender, set when the outcome is settled (the signed receipt names it). */
  mailFrom?: string;
  /** The remote server's reply line, or our own reason when no server answered. */
  reply: string;
  outcome: 'delivered' | 'deferred' | 'failed';
  /**
   * The route the recipient got (issue 11: the receipt says which route and why):
   * `end-to-end:openpgp`, `end-to-end:smime`, `link` (delivered as is, over the level policy
   * set), `pickup`, `bounce`. Absent on receipts written before routes were recorded.
   */
  route?: ReceiptRoute;
  /** Why policy chose that route (decideRoute's reason). */
  routeReason?: string;
  /** End to end: the protected copy carried the sender's signature (for the audit's `message.signed`; not stored). */
  signed?: boolean;
}

/** One safeguard of the HIPAA compliance report (compliance-report.ts). */
export interface Safeguard {
  id: string;
  /** The rule: `164.312(a)(2)(i)`. */
  citation: string;
  title: string;
  status: 'met' | 'warning';
  /** How this installation meets it, from its live settings. */
  findings: string[];
  /** What to change, each a sentence naming the setting or command. */
  warnings: string[];
}

export interface ComplianceReport {
  generatedAt: number;
  hostname: string;
  safeguards: Safeguard[];
  warnings: number;
}
export type ReceiptRoute = 'end-to-end:openpgp' | 'end-to-end:smime' | 'link' | 'pickup' | 'bounce';
