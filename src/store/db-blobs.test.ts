import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { openDatabaseBlobStore } from './db-blobs.ts';

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`database blob store on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    it.skipIf(!available)('stores a large body in pieces, reads it back in order, and removes it', async () => {
      current = await openTestStore(dialect);
      const blobs = openDatabaseBlobStore(current.store);
      const body = randomBytes(3 * 1024 * 1024 + 12345);
      const pieces = Array.from({ length: Math.ceil(body.length / 65536) }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536));
      expect(await blobs.write('big-message-1', Readable.from(pieces))).toBe(body.length);
      const rows = await current.store.db.selectFrom('message_chunks').select(['seq']).where('message_id', '=', 'big-message-1').orderBy('seq').execute();
      expect(rows.map((r) => r.seq)).toEqual([0, 1, 2, 3]);
      expect((await collect(blobs.read('big-message-1'))).equals(body)).toBe(true);
      await blobs.remove('big-message-1');
      expect(await collect(blobs.read('big-message-1'))).toHaveLength(0);
    });

    it.skipIf(!available)('leaves nothing behind when the body stream fails, and sweeps old orphans only', async () => {
      current = await openTestStore(dialect);
      const blobs = openDatabaseBlobStore(current.store);
      const failing = Readable.from((async function* () {
        yield randomBytes(2 * 1024 * 1024);
        throw new Error('client went away');
      })());
      await expect(blobs.write('torn-1', failing)).rejects.toThrow('client went away');
      expect(await current.store.db.selectFrom('message_chunks').selectAll().execute()).toEqual([]);
      await current.store.db.insertInto('message_chunks').values([
        { message_id: 'orphan-old', seq: 0, data: Buffer.from('x'), created_at: Date.now() - 2 * 3_600_000 },
        { message_id: 'in-flight', seq: 0, data: Buffer.from('y'), created_at: Date.now() },
      ]).execute();
      expect(await blobs.sweepTemp()).toBe(1);
      const left = await current.store.db.selectFrom('message_chunks').select('message_id').execute();
      expect(left.map((r) => r.message_id)).toEqual(['in-flight']);
    });
  });
}
