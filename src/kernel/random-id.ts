import { randomBytes } from 'node:crypto';

/**
 * Letters and digits only: an id never starts with `-` (which every command line reads as an
 * option, `queue show -VWX…`), and a double click selects all of it in a terminal.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Bytes at or above this would favour the first letters (256 is not a multiple of 62). */
const UNBIASED = 256 - (256 % ALPHABET.length);

/** `length` random letters and digits, each of the 62 equally likely. */
export function randomAlphanumeric(length: number): string {
  let id = '';
  while (id.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= UNBIASED) continue;
      id += ALPHABET[byte % ALPHABET.length];
      if (id.length === length) break;
    }
  }
  return id;
}
