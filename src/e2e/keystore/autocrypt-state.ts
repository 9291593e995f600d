/**
 * The Autocrypt Level 1 peer state machine (Autocrypt 1.1 spec §2.3 "Updating Autocrypt Peer
 * State" and §2.4 "Provide a recommendation"). Pure: the caller loads and stores the state.
 */

export type PreferEncrypt = 'mutual' | 'nopreference';

export interface AutocryptPeerState {
  address: string;
  /** Most recent effective date of any message seen from the peer (ms). */
  lastSeen: number;
  /** Effective date of the most recent message that carried a valid Autocrypt header; null: none yet. */
  autocryptTimestamp: number | null;
  publicKey: Uint8Array | null;
  preferEncrypt: PreferEncrypt;
}

export interface AutocryptObservation {
  /** The From address, lowercased. */
  from: string;
  /** The message's Date (ms); null or a future date counts as `now` (§2.3: effective date). */
  date: number | null;
  /** The message's one valid Autocrypt header for `from`, or null. */
  header: { keydata: Uint8Array; preferEncrypt: PreferEncrypt } | null;
}

/** The new state after one message, or the old one unchanged (same object) when nothing changes. */
export function updatePeerState(state: AutocryptPeerState | null, seen: AutocryptObservation, now: number): AutocryptPeerState | null {
  const effective = seen.date === null || seen.date > now ? now : seen.date;
  if (!state) {
    if (!seen.header) return { address: seen.from, lastSeen: effective, autocryptTimestamp: null, publicKey: null, preferEncrypt: 'nopreference' };
    return { address: seen.from, lastSeen: effective, autocryptTimestamp: effective, publicKey: seen.header.keydata, preferEncrypt: seen.header.preferEncrypt };
  }
  // Step 1: older than what the state reflects (a delayed or replayed message): no change.
  if (state.autocryptTimestamp !== null && effective < state.autocryptTimestamp) return state;
  const next = { ...state };
  // Step 2.
  if (effective > next.lastSeen) next.lastSeen = effective;
  // Step 3: no header: only last_seen moves, so the key's age against last_seen is visible.
  if (!seen.header) return next;
  next.autocryptTimestamp = effective;
  next.publicKey = seen.header.keydata;
  next.preferEncrypt = seen.header.preferEncrypt;
  return next;
}

export type AutocryptRecommendation = 'disable' | 'discourage' | 'available' | 'encrypt';

const STALE_MS = 35 * 24 * 3600 * 1000;

/**
 * §2.4.1 preliminary recommendation for one recipient (without the reply-to-encrypted rule,
 * which needs the message being answered): no key → disable; a key not refreshed in the 35 days
 * before the last message → discourage; prefer-encrypt mutual → encrypt; else available.
 */
export function recommendation(state: AutocryptPeerState | null): AutocryptRecommendation {
  if (!state || !state.publicKey || state.autocryptTimestamp === null) return 'disable';
  if (state.autocryptTimestamp < state.lastSeen - STALE_MS) return 'discourage';
  return state.preferEncrypt === 'mutual' ? 'encrypt' : 'available';
}
