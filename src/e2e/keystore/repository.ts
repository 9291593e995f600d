/**
 * The key and certificate store (issue 11): our users' keys, private parts sealed under the
 * vault's master key, and correspondents' keys with their source, first and last sighting and
 * how long they are trusted. Which key to use and when one replaces another: precedence.ts;
 * Autocrypt's own rules: autocrypt-state.ts.
 */
import type { Store } from '../../store/index.ts';
import type { Vault } from '../../vault/index.ts';
import type { E2eKind, PrivateKeyMaterial, PublicKeyMaterial } from '../types.ts';
import { recommendation, updatePeerState, type AutocryptObservation, type AutocryptPeerState, type AutocryptRecommendation } from './autocrypt-state.ts';
import { KeyParseError, parseKeys, readCertificate, readOpenPgpKeys, describeCertificate, describeOpenPgpKey, type ParsedKey } from './parse.ts';
import { chooseBest, supersedes, unusableReason, type KeySource } from './precedence.ts';

export interface UserKeyInfo {
  kind: E2eKind;
  address: string;
  fingerprint: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface PeerKeyInfo {
  kind: E2eKind;
  address: string;
  fingerprint: string;
  source: KeySource;
  keyCreatedAt: number;
  expiresAt: number | null;
  firstSeen: number;
  lastSeen: number;
  trustedUntil: number | null;
  state: 'active' | 'superseded' | 'revoked';
}

export interface BestKey extends PublicKeyMaterial {
  fingerprint: string;
  /** `own` when the address is one of our users. */
  source: KeySource | 'own';
}

export interface KeyStoreOptions {
  /** How long a key from WKD or a keyserver is trusted before its source must be asked again. */
  discoveredTrustMs?: number;
}

type SealingVault = Pick<Vault, 'seal' | 'open'>;

const lower = (address: string) => address.trim().toLowerCase();
const ms = (date: Date | null) => (date ? date.getTime() : null);
const bytes = (value: Uint8Array) => new Uint8Array(value);

function mustName(parsed: ParsedKey, address: string): void {
  if (!parsed.addresses.includes(address)) {
    throw new KeyParseError(`the key ${parsed.fingerprint} does not name ${address} (it names ${parsed.addresses.join(', ') || 'no address'})`);
  }
}

export class E2eKeyStore {
  private readonly store: Store;
  private readonly vault: SealingVault;
  private readonly discoveredTrustMs: number;
  /** What this process last read or wrote of each recent sender's Autocrypt state. */
  private readonly recentPeers = new Map<string, AutocryptPeerState>();

  constructor(store: Store, vault: SealingVault, options: KeyStoreOptions = {}) {
    this.store = store;
    this.vault = vault;
    this.discoveredTrustMs = options.discoveredTrustMs ?? 7 * 24 * 3600 * 1000;
  }

  /** An OpenPGP transferable secret key of one of our users; its address is its first user ID's unless given. */
  async addUserOpenPgpKey(secretKey: Uint8Array, now: Date, address?: string): Promise<UserKeyInfo> {
    const keys = await readOpenPgpKeys(secretKey);
    if (keys.length !== 1 || !keys[0].isPrivate()) throw new KeyParseError('a user key must be exactly one OpenPGP secret key');
    const parsed = await describeOpenPgpKey(keys[0], now);
    const owner = address ? lower(address) : parsed.addresses[0];
    if (!owner) throw new KeyParseError('the key names no address in its user IDs; give one');
    mustName(parsed, owner);
    return this.insertUserKey(parsed, owner, this.vault.seal(Buffer.from(keys[0].write())), now);
  }

  /** An S/MIME certificate with its PKCS#8 private key (DER) and any intermediates (DER). */
  async addUserSmimeKey(certificate: Uint8Array, pkcs8: Uint8Array, chain: Uint8Array[], now: Date, address?: string): Promise<UserKeyInfo> {
    const parsed = await describeCertificate(readCertificate(certificate), now);
    const owner = address ? lower(address) : parsed.addresses[0];
    if (!owner) throw new KeyParseError('the certificate names no e-mail address; give one');
    mustName(parsed, owner);
    const secret = JSON.stringify({ key: Buffer.from(pkcs8).toString('base64'), chain: chain.map((c) => Buffer.from(c).toString('base64')) });
    return this.insertUserKey(parsed, owner, this.vault.seal(Buffer.from(secret)), now);
  }

  private async insertUserKey(parsed: ParsedKey, address: string, sealed: Buffer, now: Date): Promise<UserKeyInfo> {
    const row = { kind: parsed.kind, address, fingerprint: parsed.fingerprint, public_data: bytes(parsed.publicData), private_sealed: bytes(sealed), created_at: parsed.createdAt.getTime(), expires_at: ms(parsed.expiresAt), revoked_at: parsed.revoked ? now.getTime() : null };
    await this.store.db.insertInto('e2e_user_keys').values(row).execute();
    return { kind: row.kind, address, fingerprint: row.fingerprint, createdAt: row.created_at, expiresAt: row.expires_at, revokedAt: row.revoked_at };
  }

  async listUserKeys(address?: string): Promise<UserKeyInfo[]> {
    let query = this.store.db.selectFrom('e2e_user_keys').select(['kind', 'address', 'fingerprint', 'created_at', 'expires_at', 'revoked_at']).orderBy('address').orderBy('created_at');
    if (address) query = query.where('address', '=', lower(address));
    return (await query.execute()).map((r) => ({ kind: r.kind, address: r.address, fingerprint: r.fingerprint, createdAt: Number(r.created_at), expiresAt: r.expires_at, revokedAt: r.revoked_at }));
  }

  /** The public part of a user key (binary OpenPGP certificate or DER). */
  async userPublicKey(fingerprint: string): Promise<{ kind: E2eKind; address: string; data: Uint8Array } | undefined> {
    const row = await this.store.db.selectFrom('e2e_user_keys').select(['kind', 'address', 'public_data']).where('fingerprint', '=', fingerprint.toLowerCase()).executeTakeFirst();
    return row ? { kind: row.kind, address: row.address, data: bytes(row.public_data) } : undefined;
  }

  /** The newest usable private key of one of our users, opened from the vault for one operation. */
  async userPrivateKey(address: string, kind: E2eKind, now: Date): Promise<(PrivateKeyMaterial & { fingerprint: string }) | undefined> {
    const t = now.getTime();
    const row = await this.store.db
      .selectFrom('e2e_user_keys')
      .selectAll()
      .where('address', '=', lower(address))
      .where('kind', '=', kind)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', t)]))
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    if (!row) return undefined;
    const plain = this.vault.open(Buffer.from(row.private_sealed));
    if (kind === 'openpgp') return { kind, address: row.address, fingerprint: row.fingerprint, key: bytes(plain) };
    const secret = JSON.parse(plain.toString('utf8')) as { key: string; chain: string[] };
    return { kind, address: row.address, fingerprint: row.fingerprint, key: bytes(Buffer.from(secret.key, 'base64')), certificates: [bytes(row.public_data), ...secret.chain.map((c) => bytes(Buffer.from(c, 'base64')))] };
  }

  /**
   * Records every key in `data` that names `address` as learned from `source` (all the keys
   * of the data when no address is given: an admin's import), applying the source's rules for
   * replacing older keys. Returns the keys recorded.
   */
  async addPeerKeys(data: Uint8Array, source: KeySource, now: Date, address?: string): Promise<PeerKeyInfo[]> {
    const parsed = (await parseKeys(data, now)).filter((k) => !address || k.addresses.includes(lower(address)));
    if (!parsed.length) throw new KeyParseError(address ? `no key in the data names ${lower(address)}` : 'no key in the data');
    const recorded: PeerKeyInfo[] = [];
    for (const key of parsed) {
      const owners = address ? [lower(address)] : key.addresses;
      if (!owners.length) throw new KeyParseError(`the key ${key.fingerprint} names no e-mail address`);
      for (const owner of owners) recorded.push(await this.recordPeerKey(key, owner, source, now.getTime()));
    }
    return recorded;
  }

  /**
   * A WKD answer for `address` (issue 11: "a WKD answer beats a harvested key"): its keys are
   * recorded, and held WKD keys the domain no longer serves are superseded.
   */
  async applyWkdAnswer(address: string, data: Uint8Array, now: Date): Promise<PeerKeyInfo[]> {
    const recorded = await this.addPeerKeys(data, 'wkd', now, address);
    const served = recorded.map((k) => k.fingerprint);
    await this.store.db.updateTable('e2e_peer_keys').set({ state: 'superseded' }).where('address', '=', lower(address)).where('source', '=', 'wkd').where('state', '=', 'active').where('fingerprint', 'not in', served).execute();
    return recorded;
  }

  private async recordPeerKey(key: ParsedKey, address: string, source: KeySource, now: number): Promise<PeerKeyInfo> {
    const db = this.store.db;
    const trustedUntil = source === 'wkd' || source === 'keyserver' ? now + this.discoveredTrustMs : null;
    const state = key.revoked ? 'revoked' : 'active';
    const existing = await db.selectFrom('e2e_peer_keys').selectAll().where('kind', '=', key.kind).where('address', '=', address).where('fingerprint', '=', key.fingerprint).where('source', '=', source).executeTakeFirst();
    if (existing) {
      // The same key again: newer data (a new expiry, a revocation) and the sighting; a key
      // once revoked stays revoked, and a superseded one stays so unless its source serves it anew.
      const nextState = existing.state === 'revoked' || key.revoked ? 'revoked' : source === 'wkd' || source === 'imported' ? 'active' : existing.state;
      await db.updateTable('e2e_peer_keys').set({ data: bytes(key.publicData), expires_at: ms(key.expiresAt), last_seen: Math.max(Number(existing.last_seen), now), trusted_until: trustedUntil, state: nextState }).where('id', '=', existing.id).execute();
    } else {
      await db.insertInto('e2e_peer_keys').values({ kind: key.kind, address, fingerprint: key.fingerprint, data: bytes(key.publicData), source, key_created_at: key.createdAt.getTime(), expires_at: ms(key.expiresAt), first_seen: now, last_seen: now, trusted_until: trustedUntil, state }).execute();
    }
    if (state === 'active' && source !== 'wkd') {
      const others = await db.selectFrom('e2e_peer_keys').select(['id', 'key_created_at', 'last_seen']).where('kind', '=', key.kind).where('address', '=', address).where('source', '=', source).where('state', '=', 'active').where('fingerprint', '!=', key.fingerprint).execute();
      const replaced = others.filter((o) => supersedes({ source, keyCreatedAt: key.createdAt.getTime(), seenAt: now }, { source, keyCreatedAt: Number(o.key_created_at), lastSeen: Number(o.last_seen) })).map((o) => o.id);
      if (replaced.length) await db.updateTable('e2e_peer_keys').set({ state: 'superseded' }).where('id', 'in', replaced).execute();
    }
    const row = await db.selectFrom('e2e_peer_keys').selectAll().where('kind', '=', key.kind).where('address', '=', address).where('fingerprint', '=', key.fingerprint).where('source', '=', source).executeTakeFirstOrThrow();
    return peerInfo(row);
  }

  async listPeerKeys(address?: string): Promise<PeerKeyInfo[]> {
    let query = this.store.db.selectFrom('e2e_peer_keys').selectAll().orderBy('address').orderBy('first_seen');
    if (address) query = query.where('address', '=', lower(address));
    return (await query.execute()).map(peerInfo);
  }

  async peerKeyData(fingerprint: string): Promise<{ kind: E2eKind; address: string; data: Uint8Array } | undefined> {
    const row = await this.store.db.selectFrom('e2e_peer_keys').select(['kind', 'address', 'data']).where('fingerprint', '=', fingerprint.toLowerCase()).orderBy('last_seen', 'desc').executeTakeFirst();
    return row ? { kind: row.kind, address: row.address, data: bytes(row.data) } : undefined;
  }

  /** Deletes every user or correspondent key with this fingerprint; returns how many rows went. */
  async deleteKey(fingerprint: string): Promise<number> {
    const fp = fingerprint.toLowerCase();
    const user = await this.store.db.deleteFrom('e2e_user_keys').where('fingerprint', '=', fp).executeTakeFirst();
    const peer = await this.store.db.deleteFrom('e2e_peer_keys').where('fingerprint', '=', fp).executeTakeFirst();
    // The private part was in the deleted row: let the deletion reach the database files soon.
    this.store.scrub?.();
    return Number(user.numDeletedRows) + Number(peer.numDeletedRows);
  }

  /**
   * The key to encrypt to `address` now: our own user's key first, else the correspondent's
   * by source precedence (imported > WKD > keyserver > Autocrypt > harvested), never one
   * expired, revoked, superseded or past its trust. Autocrypt keys only while Autocrypt
   * itself recommends encrypting (§2.4: not `disable` or `discourage`).
   */
  async bestKeyFor(address: string, kind: E2eKind, now: Date): Promise<BestKey | undefined> {
    const who = lower(address);
    const t = now.getTime();
    const own = (await this.listUserKeys(who)).filter((k) => k.kind === kind && k.revokedAt === null && (k.expiresAt === null || k.expiresAt > t)).sort((a, b) => b.createdAt - a.createdAt)[0];
    if (own) {
      const data = await this.userPublicKey(own.fingerprint);
      if (data) return { kind, address: who, data: data.data, fingerprint: own.fingerprint, source: 'own' };
    }
    const rows = await this.store.db.selectFrom('e2e_peer_keys').selectAll().where('address', '=', who).where('kind', '=', kind).where('state', '=', 'active').execute();
    const autocryptOk = ['available', 'encrypt'].includes(await this.autocryptRecommendation(who));
    const candidates = [];
    for (const row of rows) {
      if (row.source === 'autocrypt' && !autocryptOk) continue;
      // Whether it can encrypt is checked against `now`: a subkey may expire before the primary key.
      const [parsed] = await parseKeys(bytes(row.data), now);
      candidates.push({ row, source: row.source, state: row.state, keyCreatedAt: Number(row.key_created_at), expiresAt: row.expires_at, trustedUntil: row.trusted_until, lastSeen: Number(row.last_seen), canEncrypt: parsed.canEncrypt && !parsed.revoked });
    }
    const best = chooseBest(candidates, t);
    return best ? { kind, address: who, data: bytes(best.row.data), fingerprint: best.row.fingerprint, source: best.row.source } : undefined;
  }

  /** Why each held key of `address` is or is not used (for `keys show`). */
  async usability(address: string, now: Date): Promise<{ fingerprint: string; source: KeySource; reason: string | null }[]> {
    const rows = await this.store.db.selectFrom('e2e_peer_keys').selectAll().where('address', '=', lower(address)).execute();
    const out = [];
    for (const row of rows) {
      const [parsed] = await parseKeys(bytes(row.data), now);
      out.push({ fingerprint: row.fingerprint, source: row.source, reason: unusableReason({ source: row.source, state: row.state, keyCreatedAt: Number(row.key_created_at), expiresAt: row.expires_at, trustedUntil: row.trusted_until, lastSeen: Number(row.last_seen), canEncrypt: parsed.canEncrypt && !parsed.revoked }, now.getTime()) });
    }
    return out;
  }

  async autocryptState(address: string): Promise<AutocryptPeerState | null> {
    const row = await this.store.db.selectFrom('e2e_autocrypt_peers').selectAll().where('address', '=', lower(address)).executeTakeFirst();
    if (!row) return null;
    return { address: row.address, lastSeen: Number(row.last_seen), autocryptTimestamp: row.autocrypt_timestamp === null ? null : Number(row.autocrypt_timestamp), publicKey: row.public_key ? bytes(row.public_key) : null, preferEncrypt: row.prefer_encrypt };
  }

  async autocryptRecommendation(address: string): Promise<AutocryptRecommendation> {
    return recommendation(await this.autocryptState(address));
  }

  /**
   * One inbound message from `seen.from` through the Autocrypt state machine; when it brings a
   * new key, that key becomes the address's one Autocrypt key (older ones superseded).
   */
  async observeAutocrypt(seen: AutocryptObservation, now: Date): Promise<AutocryptPeerState | null> {
    const from = lower(seen.from);
    // A header whose key does not parse, cannot encrypt or does not name the sender counts as
    // no header (§2.1.1: "keydata" must be a usable key for "addr").
    let header = seen.header;
    if (header) {
      const parsed = await parseKeys(header.keydata, now).catch(() => []);
      if (!parsed.some((k) => k.kind === 'openpgp' && k.addresses.includes(from) && k.canEncrypt && !k.revoked)) header = null;
    }
    const effective = seen.date === null || seen.date > now.getTime() ? now.getTime() : seen.date;
    const known = this.recentPeers.get(from);
    if (!header && known && lastSeenCurrent(known, effective)) return known;
    const before = await this.autocryptState(from);
    const after = updatePeerState(before, { ...seen, from, header }, now.getTime());
    if (!after || after === before) return before;
    if (!header && before && lastSeenCurrent(before, effective)) {
      this.rememberPeer(before);
      return before;
    }
    const row = { last_seen: after.lastSeen, autocrypt_timestamp: after.autocryptTimestamp, public_key: after.publicKey ? bytes(after.publicKey) : null, prefer_encrypt: after.preferEncrypt };
    if (before) await this.store.db.updateTable('e2e_autocrypt_peers').set(row).where('address', '=', from).execute();
    else await this.store.db.insertInto('e2e_autocrypt_peers').values({ address: from, ...row }).onConflict((oc) => oc.column('address').doUpdateSet(row)).execute();
    const changedKey = after.publicKey && (!before?.publicKey || !Buffer.from(before.publicKey).equals(Buffer.from(after.publicKey)));
    if (changedKey && after.publicKey) {
      const [recorded] = await this.addPeerKeys(after.publicKey, 'autocrypt', now, from);
      await this.store.db.updateTable('e2e_peer_keys').set({ state: 'superseded' }).where('address', '=', from).where('source', '=', 'autocrypt').where('state', '=', 'active').where('fingerprint', '!=', recorded.fingerprint).execute();
    }
    this.rememberPeer(after);
    return after;
  }

  private rememberPeer(state: AutocryptPeerState): void {
    if (this.recentPeers.size >= 4096) this.recentPeers.clear();
    this.recentPeers.set(state.address, state);
  }
}

/**
 * Autocrypt's last_seen is kept to the hour: a message without a header moves only last_seen,
 * and writing it for every message from a regular sender cost a read and a write per message
 * (issue 14). It only ever meets the 35-day staleness rule (recommendation()), which an hour
 * does not move; a header, or a date older than the state's, always goes through.
 */
const LAST_SEEN_PRECISION_MS = 3_600_000;

function lastSeenCurrent(state: AutocryptPeerState, effective: number): boolean {
  return effective >= (state.autocryptTimestamp ?? -Infinity) && effective - state.lastSeen < LAST_SEEN_PRECISION_MS;
}

function peerInfo(r: { kind: E2eKind; address: string; fingerprint: string; source: KeySource; key_created_at: number; expires_at: number | null; first_seen: number; last_seen: number; trusted_until: number | null; state: 'active' | 'superseded' | 'revoked' }): PeerKeyInfo {
  return { kind: r.kind, address: r.address, fingerprint: r.fingerprint, source: r.source, keyCreatedAt: Number(r.key_created_at), expiresAt: r.expires_at === null ? null : Number(r.expires_at), firstSeen: Number(r.first_seen), lastSeen: Number(r.last_seen), trustedUntil: r.trusted_until === null ? null : Number(r.trusted_until), state: r.state };
}
