/**
 * Replay detection for signed inbound mail (issue 11): a signature carries its signing time,
 * so a copy of a message re-sent later carries the same signer, Message-ID and signing time
 * as the original. Only the SHA-256 of the three is kept (no address or Message-ID in the
 * clear), until `retentionMs` after the later of arrival and signing time.
 *
 * "Seen before?" is one insert against the primary key: of two copies arriving at once,
 * exactly one insert succeeds, the other is the replay, on SQLite and PostgreSQL alike.
 */
import { createHash } from 'node:crypto';
import type { Store } from '../store/index.ts';

export type ReplayVerdict =
  /** First sighting: the claim is held until `release` or expiry. */
  | { state: 'first'; digest: string }
  | { state: 'replay'; digest: string }
  /** Signed before the window we remember: a replay could not be recognised. */
  | { state: 'too-old'; digest: string };

export interface ReplayKey {
  /** Fingerprint or certificate hash of the signing key (what the signature proves). */
  signerKey: string;
  messageId: string;
  signedAt: Date;
}

export function replayDigest(key: ReplayKey): string {
  // Length-prefixed so no two different triples hash alike.
  const parts = [key.signerKey.toUpperCase(), key.messageId.trim(), String(key.signedAt.getTime())];
  return createHash('sha256').update(parts.map((p) => `${Buffer.byteLength(p)}:${p}`).join('|')).digest('hex');
}

export class ReplayLedger {
  private readonly store: Store;
  private readonly retentionMs: number;

  constructor(store: Store, retentionMs: number) {
    this.store = store;
    this.retentionMs = retentionMs;
  }

  /** Records the message as seen unless it was; says which. */
  async claim(key: ReplayKey, now: Date): Promise<ReplayVerdict> {
    const digest = replayDigest(key);
    const t = now.getTime();
    const signed = key.signedAt.getTime();
    const db = this.store.db;
    // Expired rows go as new ones come: no separate purge job to schedule.
    await db.deleteFrom('e2e_replay_seen').where('expires_at', '<', t).execute();
    const inserted = await db
      .insertInto('e2e_replay_seen')
      .values({ digest, seen_at: t, expires_at: Math.max(t, signed) + this.retentionMs })
      .onConflict((oc) => oc.column('digest').doNothing())
      .returning('digest')
      .execute();
    // RETURNING gives the row only when this insert made it (both engines).
    if (inserted.length === 0) return { state: 'replay', digest };
    return signed < t - this.retentionMs ? { state: 'too-old', digest } : { state: 'first', digest };
  }

  /** Gives a first sighting back (the message was not stored after all, so its retry is no replay). */
  async release(digest: string): Promise<void> {
    await this.store.db.deleteFrom('e2e_replay_seen').where('digest', '=', digest).execute();
  }
}
