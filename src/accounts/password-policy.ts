/**
 * What a new password must be (NIST SP 800-63B §3.1.1.2): long enough, not longer than we
 * hash, and not on a list of passwords known from breaches — no composition rules, no expiry.
 * The list is zxcvbn-ts's common-passwords dictionary (≈49k entries from real breach corpora),
 * bundled as a package so the check works offline.
 */
import { createRequire } from 'node:module';
import { AccountError } from './errors.ts';

export interface PasswordPolicy {
  minLength: number;
}

export const MAX_PASSWORD_LENGTH = 256;

let breached: Set<string> | undefined;

// Loaded at the first password set, not at every start of every command.
function breachedPasswords(): Set<string> {
  if (!breached) {
    const { dictionary } = createRequire(import.meta.url)('@zxcvbn-ts/language-common') as { dictionary: Record<string, string[]> };
    breached = new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));
  }
  return breached;
}

/** Throws an AccountError naming the rule a password breaks. */
export function checkNewPassword(password: string, policy: PasswordPolicy, username?: string): void {
  // Length in code points, as a person counts (NIST: each Unicode code point is one character).
  const length = [...password].length;
  if (length < policy.minLength) throw new AccountError(`password too short: use at least ${policy.minLength} characters (a few unrelated words make a good one)`);
  if (length > MAX_PASSWORD_LENGTH) throw new AccountError(`password too long: at most ${MAX_PASSWORD_LENGTH} characters`);
  const lower = password.normalize('NFKC').toLowerCase();
  if (breachedPasswords().has(lower)) throw new AccountError('this password is on a list of passwords known from breaches: choose another');
  if (username && lower === username.toLowerCase()) throw new AccountError('the password must not be the user name');
  if (/^(.)\1*$/u.test(password)) throw new AccountError('the password must not repeat one character');
}
