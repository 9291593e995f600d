import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LoginOutcome, RedeemOutcome, Role } from '../accounts/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import type { Clock, ComplianceReport, Logger, OwnNotice } from '../kernel/index.ts';
import type { PickupStore } from '../pickup/index.ts';
import type { Queue } from '../queue/index.ts';
import type { Store } from '../store/index.ts';
import type { WebSessions } from './sessions.ts';

/** What the web tier is given by the composition root. */
export interface WebDeps {
  config: Config;
  store: Store;
  pickup: PickupStore;
  /** The gateway's users (src/accounts Users); a console user name is the sender address. */
  users: {
    /** A login through the shared budgets (accounts `Users.login`). */
    /** `code`: a TOTP or recovery code, for users with a second factor; `area`: which console asks (the audit event's protocol). */
    login(username: string, password: string, ip: string, options?: { code?: string; role?: Role | Role[]; area?: 'console' | 'admin' }): Promise<LoginOutcome>;
    /** The account exists and is enabled (a removed or disabled user's session ends at once). */
    isActive(username: string): Promise<boolean>;
    /** The user's roles: the console session's idle limit follows the strictest. */
    rolesOf(username: string): Promise<string[]>;
    /** The admin console's user list and locks. */
    list(): Promise<{ username: string; createdAt: number; disabled: boolean }[]>;
    setLocked(username: string, locked: boolean): Promise<void>;
    lockState(username: string): Promise<{ adminLock: boolean; budgetLockedUntil: number | null }>;
    /** Spends the emergency access credential (accounts `BreakGlass.redeem`). */
    redeemBreakGlass(credential: string, ip: string): Promise<RedeemOutcome>;
    /** Console set-up of TOTP (accounts `Users`): the pending key, its confirmation, whether one is on. */
    enrolSecondFactor(username: string): Promise<{ uri: string; secret: string }>;
    confirmSecondFactor(username: string, code: string): Promise<string[]>;
    hasSecondFactor(username: string): Promise<boolean>;
    /** The roles that must have a second factor (config plus the console's choice), and the console's side of it. */
    requiredSecondFactorRoles(): Promise<string[]>;
    setRequiredSecondFactorRoles(roles: Role[]): Promise<void>;
    readonly configuredSecondFactorRoles: string[];
    /** The admin console's new account (password rules of `user add`). */
    add(username: string, password: string): Promise<void>;
    grantRole(username: string, role: Role): Promise<boolean>;
    revokeRole(username: string, role: Role): Promise<boolean>;
  };
  /** The audit chain: senders' retractions and unlocks, admin changes, and the admin console's view of it (logins are audited by the composition root). */
  audit: Pick<AuditLog, 'record' | 'list'>;
  /** The queue for the admin console (inspect, retry, delete); absent: no queue pages. */
  queue?: Pick<Queue, 'list' | 'show' | 'retryNow' | 'remove'>;
  /** The header analysis of the console's analyze page, with DKIM/ARC checked over DNS (auth `analyzeMessage` with a resolver); absent: offline. */
  analyzeMessage?: (message: Buffer) => Promise<import('../auth/index.ts').MessageAnalysis>;
  /** The HIPAA safeguards report for the admin console (compliance-facts.ts); absent: no such page. */
  compliance?: () => Promise<ComplianceReport>;
  /** The retention purge now (retention-service.ts runPurge), `actor` named in its audit event; absent: no "purge now" button. */
  purge?: (actor: string) => Promise<{ finishedMessages: number; receipts: number; pickups: number; auditEvents: number; tlsReportsBefore: string }>;
  logger: Logger;
  clock: Clock;
  /** PEM key and certificate: tls.* or the self-signed pair (web.certFile/keyFile win). */
  tls: { key: string; cert: string };
  /** Sends a message the portal made itself (one-time codes, read notices). */
  /** Queues our own content-free mail; `notice` names a pickup notice's pickup and sender (default: a code or read notice). */
  sendMail(envelope: { from: string; to: string[]; notice?: OwnNotice }, raw: Buffer): Promise<void>;
}

/** What the route modules share. */
export interface WebContext extends WebDeps {
  sessions: WebSessions;
}

export const clientIp = (request: FastifyRequest): string => request.ip;

export function redirect(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header('location', location).send();
}
