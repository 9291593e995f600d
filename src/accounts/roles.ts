/**
 * Roles (issue 13): `sender` submits mail and uses the sender console, `admin` runs the
 * gateway, `auditor` reads the audit log. A user may hold several; a new user is a sender.
 */
import type { Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import { AccountError } from './errors.ts';

export const ROLES = ['admin', 'sender', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export class Roles {
  private readonly store: Store;
  private readonly clock: Clock;

  constructor(store: Store, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  async of(username: string): Promise<Role[]> {
    const rows = await this.store.db.selectFrom('user_roles').select('role').where('username', '=', username).orderBy('role').execute();
    return rows.map((r) => r.role).filter(isRole);
  }

  async grant(username: string, role: string): Promise<boolean> {
    if (!isRole(role)) throw new AccountError(`unknown role ${JSON.stringify(role)}: use one of ${ROLES.join(', ')}`);
    const user = await this.store.db.selectFrom('users').select('username').where('username', '=', username).executeTakeFirst();
    if (!user) throw new AccountError(`no user ${username}`);
    const result = await this.store.db
      .insertInto('user_roles')
      .values({ username, role, granted_at: this.clock.now() })
      .onConflict((oc) => oc.columns(['username', 'role']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async revoke(username: string, role: string): Promise<boolean> {
    if (!isRole(role)) throw new AccountError(`unknown role ${JSON.stringify(role)}: use one of ${ROLES.join(', ')}`);
    const result = await this.store.db.deleteFrom('user_roles').where('username', '=', username).where('role', '=', role).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
