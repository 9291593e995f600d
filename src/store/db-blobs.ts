import { Readable } from 'node:stream';
import { sql, type RawBuilder } from 'kysely';
import type { BlobStore } from './blobs.ts';
import type { Store } from './schema.ts';

const PIECE = 1024 * 1024;
const ORPHAN_AGE_MS = 3_600_000;

/**
 * Large (already encrypted) bodies as rows of 1 MB pieces, for the PostgreSQL cluster: every
 * node can read what any node accepted, which a file in one node's data dir cannot give.
 * Each piece is committed as it arrives, so a 50 MB body never sits whole in memory; the
 * message row that makes it visible is committed after the last piece.
 */
export function openDatabaseBlobStore(store: Store): BlobStore {
  const db = store.db;
  // Pieces are stamped and swept on the database's clock: the node that sweeps is not the one
  // that wrote, and a node whose clock runs ahead must not take an upload still in progress
  // (the same rule as leases, queue/queue.ts).
  const now = (): RawBuilder<number> | number =>
    store.capabilities.databaseClock ? sql<number>`(extract(epoch from now()) * 1000)::bigint` : Date.now();
  return {
    dir: `${store.capabilities.dialect}:message_chunks`,
    async write(id, content) {
      let seq = 0;
      let total = 0;
      let pending: Buffer[] = [];
      let pendingLength = 0;
      const flush = async () => {
        if (pendingLength === 0) return;
        await db.insertInto('message_chunks').values({ message_id: id, seq: seq++, data: Buffer.concat(pending), created_at: now() }).execute();
        total += pendingLength;
        pending = [];
        pendingLength = 0;
      };
      try {
        for await (const chunk of content) {
          pending.push(chunk as Buffer);
          pendingLength += (chunk as Buffer).length;
          if (pendingLength >= PIECE) await flush();
        }
        await flush();
      } catch (error) {
        await db.deleteFrom('message_chunks').where('message_id', '=', id).execute().catch(() => undefined);
        throw error;
      }
      return total;
    },
    read(id) {
      return Readable.from(
        (async function* pieces() {
          for (let seq = 0; ; seq++) {
            const row = await db.selectFrom('message_chunks').select('data').where('message_id', '=', id).where('seq', '=', seq).executeTakeFirst();
            if (!row) return;
            yield Buffer.from(row.data);
          }
        })(),
      );
    },
    async remove(id) {
      await db.deleteFrom('message_chunks').where('message_id', '=', id).execute();
    },
    async sweepTemp(olderThanMs = ORPHAN_AGE_MS) {
      // Pieces of a body whose message row never came: the writer died before the 250. Only
      // old ones: another node may be writing a body right now.
      const result = await db
        .deleteFrom('message_chunks')
        .where('created_at', '<', store.capabilities.databaseClock ? sql<number>`${now()} - ${sql.lit(Math.round(olderThanMs))}` : Date.now() - olderThanMs)
        .where((eb) => eb.not(eb.exists(eb.selectFrom('messages').select('id').whereRef('messages.id', '=', 'message_chunks.message_id'))))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
