import { hash, verify } from '@node-rs/argon2';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import { ARGON2 } from './argon2-params.ts';
import { LoginBudget, networkOf, type BudgetPolicy } from './login-budget.ts';

/*
 * Emergency access (HIPAA 164.312(a)(2)(ii), issue 13): one sealed credential, printed once by
 * `sealgate init` or `sealgate break-glass rotate`, that opens the admin console when every
 * admin is locked out. Only its Argon2id hash is stored; it works once; the caller audits its
 * use loudly and mails every admin. There is deliberately no account-wide budget on it: the
 * credential has 160 random bits, so guessing is hopeless, and a global lock would let anyone
 * on the internet switch emergency access off. Guesses spend the network's login budget.
 */

/** The session subject and audit actor of an emergency session: `#` is never in a user name. */
export const BREAK_GLASS_ACTOR = '#break-glass';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 20 random bytes as RFC 4648 base32, in groups of four: 8 groups, easy to read off paper. */
function newCredential(): string {
  const bytes = randomBytes(20);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join('-');
}

/** What a person may type: any case, spaces or dashes between the groups. */
function normalize(credential: string): string {
  return credential.toUpperCase().replace(/[\s-]/g, '');
}

export type RedeemOutcome =
  | { status: 'ok' }
  | { status: 'invalid' }
  | { status: 'locked' | 'slow-down'; retryAfterMs: number };

export interface BreakGlassStatus {
  /** The credential that would work now, if any (when it was made). */
  active: { createdAt: number } | null;
  /** The last time one was used, and from where. */
  lastUsed: { at: number; ip: string | null } | null;
}

// Argon2id of a random string nobody knows: without an active credential, a guess still costs one verify.
const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$nGUtlphYVObqatWuOsWPgQ$Acm6oXcrxqO/15Z0xYdJIRV6pi3ZwLqle5TS7rtCPdw';

export class BreakGlass {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly budget: LoginBudget;
  private readonly ipPolicy: BudgetPolicy;

  constructor(store: Store, clock: Clock, ipPolicy: BudgetPolicy) {
    this.store = store;
    this.clock = clock;
    this.budget = new LoginBudget(store, clock);
    this.ipPolicy = ipPolicy;
  }

  /** Makes a new credential (any unused one stops working) and returns it: shown once, never stored. */
  async rotate(): Promise<string> {
    const credential = newCredential();
    const secretHash = await hash(normalize(credential), ARGON2);
    const now = this.clock.now();
    await this.store.db.transaction().execute(async (tx) => {
      await tx.updateTable('break_glass_credentials').set({ replaced_at: now }).where('used_at', 'is', null).where('replaced_at', 'is', null).execute();
      await tx.insertInto('break_glass_credentials').values({ id: randomUUID(), secret_hash: secretHash, created_at: now, used_at: null, used_ip: null, replaced_at: null }).execute();
    });
    return credential;
  }

  async status(): Promise<BreakGlassStatus> {
    const active = await this.store.db.selectFrom('break_glass_credentials').select('created_at').where('used_at', 'is', null).where('replaced_at', 'is', null).orderBy('created_at', 'desc').executeTakeFirst();
    const used = await this.store.db.selectFrom('break_glass_credentials').select(['used_at', 'used_ip']).where('used_at', 'is not', null).orderBy('used_at', 'desc').executeTakeFirst();
    return {
      active: active ? { createdAt: Number(active.created_at) } : null,
      lastUsed: used ? { at: Number(used.used_at), ip: used.used_ip } : null,
    };
  }

  /** Whether a credential was ever made (`init` makes the first one only). */
  async everMade(): Promise<boolean> {
    return (await this.store.db.selectFrom('break_glass_credentials').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  /**
   * Uses the credential: right and still unused, it is spent at once (two parallel uses: one
   * wins), and `ok` comes back; the caller opens the emergency session.
   */
  async redeem(credential: string, ip: string): Promise<RedeemOutcome> {
    const reserved = await this.budget.reserve([{ key: `ip:${networkOf(ip)}`, policy: this.ipPolicy }]);
    if ('reason' in reserved) return { status: reserved.reason, retryAfterMs: reserved.retryAfterMs };
    const typed = normalize(credential);
    const active = await this.store.db.selectFrom('break_glass_credentials').select(['id', 'secret_hash']).where('used_at', 'is', null).where('replaced_at', 'is', null).execute();
    let match: string | undefined;
    for (const row of active.length ? active : [{ id: '', secret_hash: DUMMY_HASH }]) {
      if (typed.length > 0 && typed.length <= 64 && (await verify(row.secret_hash, typed)) && row.id) match = row.id;
    }
    if (!match) return { status: 'invalid' };
    const spent = await this.store.db.updateTable('break_glass_credentials').set({ used_at: this.clock.now(), used_ip: ip })
      .where('id', '=', match).where('used_at', 'is', null).where('replaced_at', 'is', null).executeTakeFirst();
    if (Number(spent.numUpdatedRows) !== 1) return { status: 'invalid' };
    await this.budget.refund(reserved);
    return { status: 'ok' };
  }
}
