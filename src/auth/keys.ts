import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Store } from '../store/index.ts';
import type { Vault } from '../vault/index.ts';

export type DkimAlgorithm = 'ed25519' | 'rsa';

export interface DkimKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  privateKeyPem: string;
  /** The `p=` value of the DNS record (RFC 6376 §3.6.1, RFC 8463 §4). */
  publicKey: string;
  createdAt: number;
  retiredAt: number | null;
}

/** `p=` for a public key: SPKI DER for RSA, the bare 32 bytes for Ed25519 (RFC 8463 §4). */
export function publicKeyValue(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  // An Ed25519 SPKI is a 12-byte prefix and the raw key.
  return (key.asymmetricKeyType === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
}

/** The TXT record text to publish at `<selector>._domainkey.<domain>`. */
export function dnsRecordOf(key: Pick<DkimKey, 'algorithm' | 'publicKey'>): string {
  return `v=DKIM1; k=${key.algorithm}; p=${key.publicKey}`;
}

/** A zone-file line; TXT strings are at most 255 bytes (RFC 1035 §3.3.14), so RSA records are split. */
export function zoneLineOf(key: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'>): string {
  const text = dnsRecordOf(key);
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += 250) parts.push(`"${text.slice(i, i + 250)}"`);
  return `${key.selector}._domainkey.${key.domain}. IN TXT ( ${parts.join(' ')} )`;
}

function selectorStamp(now: number): string {
  return new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function generate(domain: string, algorithm: DkimAlgorithm, now: number): Omit<DkimKey, 'retiredAt'> {
  const { privateKey } = algorithm === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  return {
    domain,
    selector: `sg${selectorStamp(now)}${algorithm === 'rsa' ? 'r' : 'e'}`,
    algorithm,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKeyValue(createPublicKey(privateKey)),
    createdAt: now,
  };
}

/**
 * The DKIM keys per domain (table dkim_keys, migration 0030), private halves sealed under the
 * master key. A domain signs with its current (not retired) Ed25519 and RSA keys, both at once
 * (RFC 8463 §3: a verifier without Ed25519 still has the RSA signature).
 */
export class DkimKeys {
  private readonly store: Store;
  private readonly vault: Vault;

  constructor(store: Store, vault: Vault) {
    this.store = store;
    this.vault = vault;
  }

  /** Every key of the domain, newest first, retired ones included. */
  async list(domain: string): Promise<DkimKey[]> {
    const rows = await this.store.db.selectFrom('dkim_keys').selectAll().where('domain', '=', domain.toLowerCase()).orderBy('created_at', 'desc').execute();
    return rows.map((row) => ({
      domain: row.domain,
      selector: row.selector,
      algorithm: row.algorithm as DkimAlgorithm,
      privateKeyPem: this.vault.open(Buffer.from(row.private_sealed)).toString(),
      publicKey: row.public_key,
      createdAt: Number(row.created_at),
      retiredAt: row.retired_at === null ? null : Number(row.retired_at),
    }));
  }

  async current(domain: string): Promise<DkimKey[]> {
    return (await this.list(domain)).filter((k) => k.retiredAt === null);
  }

  /**
   * Makes the domain's keys, or with `rotate` new ones, the old ones retired (their records
   * may stay published until mail signed with them is delivered). Without `rotate` existing
   * keys are returned untouched.
   */
  async ensure(domain: string, now: number, rotate = false): Promise<{ keys: DkimKey[]; created: boolean }> {
    const name = domain.toLowerCase();
    const existing = await this.current(name);
    if (existing.length && !rotate) return { keys: existing, created: false };
    const made = (['ed25519', 'rsa'] as const).map((algorithm) => generate(name, algorithm, now));
    await this.store.db.transaction().execute(async (trx) => {
      await trx.updateTable('dkim_keys').set({ retired_at: now }).where('domain', '=', name).where('retired_at', 'is', null).execute();
      await trx
        .insertInto('dkim_keys')
        .values(made.map((k) => ({ domain: k.domain, selector: k.selector, algorithm: k.algorithm, private_sealed: this.vault.seal(Buffer.from(k.privateKeyPem)), public_key: k.publicKey, created_at: k.createdAt, retired_at: null })))
        .execute();
    });
    return { keys: made.map((k) => ({ ...k, retiredAt: null })), created: true };
  }
}
