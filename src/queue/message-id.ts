import { randomBytes } from 'node:crypto';

/**
 * Letters and digits only: an id never starts with `-` (which every command line reads as an
 * option, `queue show -VWX…`), and a double click selects all of it in a terminal.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const LENGTH = 16; // 62^16 ≈ 2^95, as good as the 12 random bytes of the old base64url ids
/** Bytes at or above this would favour the first letters (256 is not a multiple of 62). */
const UNBIASED = 256 - (256 % ALPHABET.length);

export function newMessageId(): string {
  let id = '';
  while (id.length < LENGTH) {
    for (const byte of randomBytes(LENGTH * 2)) {
      if (byte >= UNBIASED) continue;
      id += ALPHABET[byte % ALPHABET.length];
      if (id.length === LENGTH) break;
    }
  }
  return id;
}

/**
 * What a queue id looks like, old (base64url, may start with `-`) or new: lets the CLI take
 * an old id such as `-VWXU…` as an id rather than as options.
 */
export const QUEUE_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;
