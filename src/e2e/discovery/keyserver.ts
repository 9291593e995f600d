/**
 * Keyserver lookup by address: VKS (Hagrid, keys.openpgp.org: `/vks/v1/by-email/<address>`,
 * addresses verified by the server) and HKP (draft-gallagher-openpgp-hkp: `/pks/lookup?op=get`).
 * Only keys whose user IDs name the address are kept: an HKP server checks nothing.
 */
import { parseKeys } from '../keystore/index.ts';
import type { HttpsFetcher } from './https-fetch.ts';

export interface KeyserverResult {
  keys: Uint8Array | null;
  protocol: 'vks' | 'hkp' | null;
  detail: string;
}

async function naming(address: string, body: Buffer): Promise<Uint8Array | null> {
  const keys = await parseKeys(body).catch(() => []);
  const kept = keys.filter((k) => k.addresses.includes(address.toLowerCase()));
  return kept.length ? Buffer.concat(kept.map((k) => k.publicData)) : null;
}

export async function lookupKeyserver(address: string, base: string, protocol: 'auto' | 'vks' | 'hkp', fetch: HttpsFetcher): Promise<KeyserverResult> {
  const root = base.replace(/\/+$/, '');
  const tries: ('vks' | 'hkp')[] = protocol === 'auto' ? ['vks', 'hkp'] : [protocol];
  const details: string[] = [];
  for (const kind of tries) {
    const url = kind === 'vks' ? `${root}/vks/v1/by-email/${encodeURIComponent(address)}` : `${root}/pks/lookup?op=get&options=mr&search=${encodeURIComponent(address)}`;
    const answer = await fetch(url, { accept: 'application/pgp-keys' });
    if (answer.status === 200) {
      const keys = await naming(address, answer.body);
      if (keys) return { keys, protocol: kind, detail: `${url}: found` };
      details.push(`${url}: no key naming ${address}`);
    } else if (answer.status === 404) {
      details.push(`${url}: no key (HTTP 404)`);
    } else {
      throw new Error(`${url}: HTTP ${answer.status}`);
    }
  }
  return { keys: null, protocol: null, detail: details.join('; ') };
}
