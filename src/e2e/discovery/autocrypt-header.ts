/**
 * The Autocrypt header of an inbound message (Autocrypt 1.1 Level 1 §2.1): pure parsing, no
 * I/O. Hand-written because no maintained library parses it; the grammar is a handful of
 * `name=value` pairs. The key data is only decoded here; the key store parses the key itself.
 */
import type { AutocryptObservation, PreferEncrypt } from '../keystore/index.ts';

/**
 * Autocrypt 1.1 §2.1.1 asks for a minimal key (primary key, one user ID, one encryption subkey,
 * their self-signatures): a few KB, some 10 KB for post-quantum ones. Anything bigger is work a
 * stranger orders (every self-signature is verified when the key store reads it, ~1 s for a
 * header-sized key with thousands of user IDs): treated as an invalid header, never parsed.
 */
export const MAX_KEYDATA_BYTES = 32 * 1024;

export interface AutocryptHeader {
  addr: string;
  preferEncrypt: PreferEncrypt;
  keydata: Uint8Array;
}

export type AutocryptParse = { header: AutocryptHeader } | { header: null; reason: string };

/** The unfolded values of every `Autocrypt:` field in a raw header section. */
export function autocryptHeaderValues(rawHeaders: string): string[] {
  const unfolded = rawHeaders.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  return unfolded
    .split(/\r?\n/)
    .filter((line) => /^autocrypt\s*:/i.test(line))
    .map((line) => line.slice(line.indexOf(':') + 1).trim());
}

function parseOne(value: string, from: string): AutocryptHeader | string {
  const attributes = new Map<string, string>();
  for (const part of value.split(';')) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) return `attribute "${trimmed.slice(0, 40)}" has no value`;
    const name = trimmed.slice(0, eq).trim().toLowerCase();
    if (attributes.has(name)) return `attribute ${name} appears twice`;
    attributes.set(name, trimmed.slice(eq + 1).trim());
  }
  // §2.1.1: an unknown attribute not starting with "_" makes the whole header invalid.
  for (const name of attributes.keys()) {
    if (!['addr', 'prefer-encrypt', 'keydata'].includes(name) && !name.startsWith('_')) return `unknown critical attribute ${name}`;
  }
  const addr = attributes.get('addr');
  const keydata = attributes.get('keydata');
  if (!addr) return 'no addr attribute';
  if (!keydata) return 'no keydata attribute';
  if (addr.toLowerCase() !== from.toLowerCase()) return `addr ${addr} is not the From address ${from}`;
  const compact = keydata.replace(/\s+/g, '');
  if (compact.length > Math.ceil(MAX_KEYDATA_BYTES / 3) * 4) return `keydata is larger than ${MAX_KEYDATA_BYTES} bytes`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return 'keydata is not base64';
  const decoded = Buffer.from(compact, 'base64');
  if (!decoded.length) return 'keydata is empty';
  // Anything but "mutual" counts as no preference (§2.1.1).
  const preferEncrypt: PreferEncrypt = attributes.get('prefer-encrypt')?.toLowerCase() === 'mutual' ? 'mutual' : 'nopreference';
  return { addr: addr.toLowerCase(), preferEncrypt, keydata: new Uint8Array(decoded) };
}

/** The message's one valid Autocrypt header for `from`; none when there are none or several (§2.3). */
export function parseAutocrypt(values: string[], from: string): AutocryptParse {
  if (!values.length) return { header: null, reason: 'no Autocrypt header' };
  const parsed = values.map((v) => parseOne(v, from));
  const valid = parsed.filter((p): p is AutocryptHeader => typeof p !== 'string');
  if (valid.length > 1) return { header: null, reason: 'more than one valid Autocrypt header (treated as none)' };
  if (valid.length === 1) return { header: valid[0] };
  return { header: null, reason: parsed.join('; ') };
}

/**
 * What one inbound message tells the Autocrypt state machine: its From address, its Date and
 * its one valid header (E2eKeyStore.observeAutocrypt applies it). `date` is the parsed Date
 * header (ms) or null when it is missing or unreadable.
 */
export function autocryptObservation(rawHeaders: string, from: string, date: number | null): AutocryptObservation & { reason: string | null } {
  const parsed = parseAutocrypt(autocryptHeaderValues(rawHeaders), from);
  return { from: from.toLowerCase(), date, header: parsed.header ? { keydata: parsed.header.keydata, preferEncrypt: parsed.header.preferEncrypt } : null, reason: parsed.header ? null : parsed.reason };
}
