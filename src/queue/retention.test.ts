import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { silentLogger as silent } from '../../test/helpers/silent-logger.ts';
import { claimScheduledJob, openBlobStore } from '../store/index.ts';
import { createVault } from '../vault/index.ts';
import { Queue } from './queue.ts';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`retention of the queue's records on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    let now = 1_800_000_000_000;
    const clock = { now: () => now };
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    async function queueWith() {
      current = await openTestStore(dialect);
      return new Queue({ store: current.store, blobs: openBlobStore(path.join(current.dir, 'blobs')), vault: createVault(randomBytes(32)), clock, logger: silent });
    }
    const put = (queue: Queue, to: string) =>
      queue.enqueue({ mailFrom: 'a@s.test', recipients: [{ address: to }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' }, Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')]));

    async function deliver(queue: Queue, id: string) {
      const [group] = await queue.lease('n', 10, 60_000);
      expect(group.messageId).toBe(id);
      await queue.settle(id, group.lease, [{ recipientId: group.recipients[0].id, state: 'delivered', reply: '250 ok', receipt: { at: now, recipient: group.recipients[0].address, mxHost: 'mx', ip: '127.0.0.1', port: 25, tlsVersion: null, cipher: null, certSubject: null, certVerified: false, reply: '250 ok', outcome: 'delivered' } }]);
    }

    it.skipIf(!available)('deletes finished messages and receipts past their period, never pending mail', async () => {
      const queue = await queueWith();
      const old = await put(queue, 'b@old.test');
      await deliver(queue, old.id);
      const recent = await put(queue, 'c@new.test');
      await deliver(queue, recent.id);
      const waiting = await put(queue, 'd@wait.test');
      // The old one finished ten days ago (done_at is on the database's clock on PostgreSQL).
      await current!.store.db.updateTable('messages').set((eb) => ({ done_at: eb('done_at', '-', 10 * 86_400_000) })).where('id', '=', old.id).execute();
      await current!.store.db.updateTable('receipts').set({ at: now - 10 * 86_400_000 }).where('message_id', '=', old.id).execute();
      const cutoff = now - 5 * 86_400_000;
      expect(await queue.purgeFinished(cutoff)).toBe(1);
      expect(await queue.show(old.id)).toBeNull();
      expect(await queue.show(recent.id)).not.toBeNull();
      expect(await queue.show(waiting.id)).not.toBeNull();
      expect(await queue.purgeReceipts(cutoff)).toBe(1);
      expect(await current!.store.db.selectFrom('receipts').select('message_id').execute()).toEqual([{ message_id: recent.id }]);
      expect(await queue.purgeFinished(now + 60_000)).toBe(1); // the recent one; the waiting one stays
      expect(await queue.show(waiting.id)).not.toBeNull();
    });

    it.skipIf(!available)('a scheduled job is claimed by one node per interval, however many ask at once', async () => {
      await queueWith();
      const store = current!.store;
      const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => claimScheduledJob(store, 'purge', `node-${i}`, 60_000, now)));
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await claimScheduledJob(store, 'purge', 'node-9', 60_000, now + 59_999)).toBe(false);
      expect(await claimScheduledJob(store, 'purge', 'node-9', 60_000, now + 60_000)).toBe(true);
      expect(await claimScheduledJob(store, 'other', 'node-9', 60_000, now)).toBe(true);
    });
  });
}
