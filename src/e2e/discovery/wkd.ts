/**
 * Web Key Directory lookup (draft-koch-openpgp-webkey-service §3.1): the advanced method at
 * `openpgpkey.<domain>`, and the direct method at the domain itself only when that sub-domain
 * does not exist. Only keys with a user ID naming the address are kept (§3.1 asks that of clients).
 */
import { createHash } from 'node:crypto';
import type { Resolver } from '../../dns/index.ts';
import { parseKeys } from '../keystore/index.ts';
import type { HttpsFetcher } from './https-fetch.ts';

const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

/**
 * z-base-32 (the encoding the WKD draft names for the hashed local part). Hand-written: it is
 * ten lines, and neither OpenPGP.js nor Node exports it.
 */
export function zBase32(data: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ZBASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ZBASE32[(value << (5 - bits)) & 31];
  return out;
}

export interface WkdLocation {
  hash: string;
  advanced: string;
  direct: string;
  /** Where the file goes under the web root of `openpgpkey.<domain>` (advanced method). */
  advancedPath: string;
  directPath: string;
}

export function wkdLocation(address: string, port = 443): WkdLocation {
  const at = address.lastIndexOf('@');
  if (at <= 0) throw new Error(`${address} is not an e-mail address`);
  const local = address.slice(0, at);
  const domain = address.slice(at + 1).toLowerCase();
  // The draft hashes the local part mapped to lower case (ASCII); `l=` carries it unchanged.
  const hash = zBase32(createHash('sha1').update(local.toLowerCase(), 'utf8').digest());
  const query = `?l=${encodeURIComponent(local)}`;
  const hostPort = port === 443 ? '' : `:${port}`;
  const advancedPath = `/.well-known/openpgpkey/${domain}/hu/${hash}`;
  const directPath = `/.well-known/openpgpkey/hu/${hash}`;
  return { hash, advanced: `https://openpgpkey.${domain}${hostPort}${advancedPath}${query}`, direct: `https://${domain}${hostPort}${directPath}${query}`, advancedPath, directPath };
}

export interface WkdResult {
  /** Binary keys naming the address, or null when the directory has none. */
  keys: Uint8Array | null;
  method: 'advanced' | 'direct' | null;
  detail: string;
}

async function subdomainExists(resolver: Resolver, host: string): Promise<boolean> {
  for (const ask of [() => resolver.resolve4(host), () => resolver.resolve6(host)]) {
    try {
      if ((await ask()).length) return true;
    } catch (error) {
      const kind = (error as { kind?: string }).kind;
      if (kind !== 'nxdomain' && kind !== 'nodata') throw error;
    }
  }
  return false;
}

async function keepNaming(address: string, body: Uint8Array): Promise<Uint8Array | null> {
  const keys = await parseKeys(body).catch(() => []);
  const naming = keys.filter((k) => k.addresses.includes(address.toLowerCase()));
  return naming.length ? Buffer.concat(naming.map((k) => k.publicData)) : null;
}

/** Asks the recipient's domain for its key; throws only when the answer could not be had (transient). */
export async function lookupWkd(address: string, io: { fetch: HttpsFetcher; resolver: Resolver; port?: number }): Promise<WkdResult> {
  const where = wkdLocation(address, io.port);
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  const method = (await subdomainExists(io.resolver, `openpgpkey.${domain}`)) ? 'advanced' : 'direct';
  // A mail domain without an address of its own publishes no directory: an answer, not a failure.
  if (method === 'direct' && !(await subdomainExists(io.resolver, domain))) return { keys: null, method: null, detail: `neither openpgpkey.${domain} nor ${domain} has an address: no Web Key Directory` };
  const url = method === 'advanced' ? where.advanced : where.direct;
  const answer = await io.fetch(url, { accept: 'application/octet-stream' });
  if (answer.status === 404 || answer.status === 410) return { keys: null, method, detail: `${url}: no key (HTTP ${answer.status})` };
  if (answer.status !== 200) throw new Error(`${url}: HTTP ${answer.status}`);
  const keys = await keepNaming(address, answer.body);
  return { keys, method, detail: keys ? `${url}: found` : `${url}: the answer holds no key naming ${address}` };
}
