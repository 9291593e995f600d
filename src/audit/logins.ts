import type { Logger } from '../kernel/index.ts';
import type { AuditLog } from './log.ts';

type Login<O extends { status: string }, P> = (username: string, password: string, ip: string, options?: P) => Promise<O>;

/**
 * What an actor field may hold of a typed user name: a mistyped password must not land in the
 * log, nor format characters (bidi controls, zero-width ones) that make a viewer of the record
 * or its exports show someone else's name.
 */
function actorOf(username: string): string {
  return /^[^\s@\p{Cc}\p{Cf}]{1,64}@[^\s@\p{Cc}\p{Cf}]{1,253}$/u.test(username) ? username.toLowerCase() : '(not an address)';
}

/**
 * A login function that leaves an audit event for every attempt on its protocol: `login.ok`,
 * `login.failed`, or `login.refused` (the budget said wait). A failed audit write is logged
 * and does not decide the login: the budgets already did.
 */
export function auditedLogin<O extends { status: string }, P = undefined>(audit: Pick<AuditLog, 'record'>, protocol: string, login: Login<O, P>, logger: Logger): Login<O, P> {
  return async (username, password, ip, options) => {
    const outcome = await login(username, password, ip, options);
    const action = outcome.status === 'ok' ? 'login.ok' : outcome.status === 'invalid' || outcome.status === 'second-factor' ? 'login.failed' : 'login.refused';
    // The reason a right password was still refused (admin lock, missing role or factor), never the password.
    const reason = 'reason' in outcome && typeof outcome.reason === 'string' ? { reason: outcome.reason } : {};
    await audit
      .record({ actor: actorOf(username), action, ip, protocol, detail: outcome.status === 'ok' || outcome.status === 'invalid' ? {} : { status: outcome.status, ...reason } })
      .catch((error) => logger.error({ err: (error as Error).message, protocol }, 'audit event for a login not written'));
    return outcome;
  };
}
