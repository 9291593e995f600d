/**
 * Which correspondent key to use, and when a newly learned key replaces one held (issue 11,
 * "Key and certificate store"). Pure, so the rules are tested as a table.
 */

export type KeySource = 'imported' | 'wkd' | 'keyserver' | 'autocrypt' | 'harvested';

/** Best first: an admin's import, then what the recipient's domain publishes, then the rest. */
export const SOURCE_PRECEDENCE: readonly KeySource[] = ['imported', 'wkd', 'keyserver', 'autocrypt', 'harvested'];

export interface CandidateKey {
  source: KeySource;
  state: 'active' | 'superseded' | 'revoked';
  keyCreatedAt: number;
  expiresAt: number | null;
  trustedUntil: number | null;
  lastSeen: number;
  canEncrypt: boolean;
}

/** Why a key is not used now, or null when it is usable. */
export function unusableReason(key: CandidateKey, now: number): string | null {
  if (key.state === 'revoked') return 'revoked';
  if (key.state === 'superseded') return 'replaced by a newer key from the same source';
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired';
  if (key.trustedUntil !== null && key.trustedUntil <= now) return 'no longer trusted (its source must be asked again)';
  if (!key.canEncrypt) return 'cannot encrypt (no valid encryption subkey or key usage)';
  return null;
}

/** The usable key by source precedence, the newest key within a source; undefined when none is usable. */
export function chooseBest<T extends CandidateKey>(keys: readonly T[], now: number): T | undefined {
  const usable = keys.filter((k) => unusableReason(k, now) === null);
  usable.sort((a, b) => SOURCE_PRECEDENCE.indexOf(a.source) - SOURCE_PRECEDENCE.indexOf(b.source) || b.keyCreatedAt - a.keyCreatedAt || b.lastSeen - a.lastSeen);
  return usable[0];
}

/**
 * Whether `incoming` (just learned from its source) supersedes `held`, a different key of the
 * same address and source. Across sources nothing is replaced: precedence picks at use time.
 * - imported: the admin said so; a new import replaces older imported keys.
 * - wkd: the domain's current answer is authoritative; keys it no longer serves go (the caller
 *   supersedes every held WKD key not in the answer, see `supersededByAnswer`).
 * - keyserver: a key created later replaces an older one; an older key never replaces a newer.
 * - harvested: the same, and only from a message seen after the held key was last seen.
 * - autocrypt: not decided here; the Autocrypt state machine (autocrypt-state.ts) holds one key.
 */
export function supersedes(incoming: { source: KeySource; keyCreatedAt: number; seenAt: number }, held: { source: KeySource; keyCreatedAt: number; lastSeen: number }): boolean {
  if (incoming.source !== held.source) return false;
  switch (incoming.source) {
    case 'imported':
      return true;
    case 'wkd':
      return true;
    case 'keyserver':
      return incoming.keyCreatedAt > held.keyCreatedAt;
    case 'harvested':
      return incoming.keyCreatedAt > held.keyCreatedAt && incoming.seenAt > held.lastSeen;
    case 'autocrypt':
      return true;
  }
}
