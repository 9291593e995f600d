import { sql, type RawBuilder } from 'kysely';
import type { ReceiptSigner } from '../audit/index.ts';
import type { Clock, Logger } from '../kernel/index.ts';
import type { BlobStore, KeyStore, Store } from '../store/index.ts';
import type { Vault } from '../vault/index.ts';

/** What every part of the queue works with (one per Queue). */
export interface QueueContext {
  store: Store;
  blobs: BlobStore;
  /** The master key's vault: seals each body's own key. */
  vault: Vault;
  /** Where each body's own data key lives. */
  keys: KeyStore;
  clock: Clock;
  logger: Logger;
  /** Signs each final outcome's receipt in the settle insert (issue 12); absent: unsigned rows. */
  receiptSigner?: ReceiptSigner;
}

/** The database's clock in epoch ms (see the contract in queue.ts). */
export function dbNow(ctx: QueueContext): RawBuilder<number> {
  if (ctx.store.capabilities.databaseClock) return sql<number>`(extract(epoch from now()) * 1000)::bigint`;
  return sql<number>`${ctx.clock.now()}`;
}

/** A time on this process's clock as the same moment on the database's. */
export function fromLocal(ctx: QueueContext, at: number): number | RawBuilder<number> {
  if (!ctx.store.capabilities.databaseClock) return at;
  return sql<number>`${dbNow(ctx)} + ${Math.round(at - ctx.clock.now())}`;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
