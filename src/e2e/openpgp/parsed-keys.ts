import { createHash } from 'node:crypto';

/**
 * Parsed OpenPGP keys by the SHA-256 of their bytes. OpenPGP.js remembers on a parsed key that
 * its self-signatures and subkey bindings verified; a key parsed again for every message
 * re-verifies each of them (Ed25519 through WebCrypto), which was about 40% of protecting a
 * 10 kB message. Validity in time (expiry) is still checked on every use; a revocation or a new
 * binding arrives as different bytes, so it is a different entry. Bounded, and entries expire,
 * so parsed secret keys do not stay in memory for ever.
 */
export class ParsedKeyCache<T> {
  private readonly entries = new Map<string, { value: Promise<T>; until: number }>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(maxEntries: number, ttlMs: number, now: () => number = Date.now) {
    this.maxEntries = maxEntries;
    this.ttlMs = ttlMs;
    this.now = now;
  }

  get(data: Uint8Array, parse: () => Promise<T>): Promise<T> {
    const key = createHash('sha256').update(data).digest('base64');
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) {
      // Most recently used last: the first entry is the one to drop when full.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    if (hit) this.entries.delete(key);
    const value = parse();
    this.entries.set(key, { value, until: now + this.ttlMs });
    // A failed parse is not kept: the caller gets its error, the next caller tries again.
    value.catch(() => this.entries.get(key)?.value === value && this.entries.delete(key));
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
