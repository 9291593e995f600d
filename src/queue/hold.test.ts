import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { silentLogger as silent } from '../../test/helpers/silent-logger.ts';
import type { Envelope } from '../kernel/index.ts';
import { openBlobStore } from '../store/index.ts';
import { createVault } from '../vault/index.ts';
import { Queue } from './queue.ts';

function envelope(from: string, recipients: string[]): Envelope {
  return { mailFrom: from, recipients: recipients.map((address) => ({ address })), requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' };
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`queue hold, release, delete, flush on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    const clock = { now: () => Date.now() };

    async function makeQueue() {
      current = await openTestStore(dialect);
      return new Queue({ store: current.store, blobs: openBlobStore(path.join(current.dir, 'blobs')), vault: createVault(randomBytes(32)), clock, logger: silent });
    }
    const put = (queue: Queue, from: string, to: string[]) => queue.enqueue(envelope(from, to), Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')]));

    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    it.skipIf(!available)('a held recipient is not leased until released, and release makes it due at once', async () => {
      const queue = await makeQueue();
      const { id } = await put(queue, 'a@s.test', ['b@a.test', 'c@b.test']);
      expect(await queue.hold({ domain: 'A.test' })).toEqual({ recipients: 1, inFlight: 0 });
      expect(await queue.hold({ domain: 'a.test' })).toEqual({ recipients: 0, inFlight: 0 });
      expect((await queue.lease('n', 10, 60_000)).map((g) => g.domain)).toEqual(['b.test']);
      expect(await queue.lease('n', 10, 60_000)).toEqual([]);
      // Neither retry nor flush releases held mail.
      expect(await queue.retryNow(id)).toBe(0);
      expect(await queue.flush()).toBe(0);
      expect((await queue.show(id))!.recipients.map((r) => [r.address, r.held])).toEqual([['b@a.test', true], ['c@b.test', false]]);
      expect((await queue.totals()).recipients).toEqual({ queued: 0, held: 1, leased: 1 });
      expect(await queue.unhold({ messageId: id })).toBe(1);
      expect((await queue.lease('n', 10, 60_000)).map((g) => g.domain)).toEqual(['a.test']);
    });

    it.skipIf(!available)('a hold by domain catches every spelling of it: U-label, A-label, any case', async () => {
      const queue = await makeQueue();
      await put(queue, 'a@s.test', ['b@bücher.example', 'c@XN--BCHER-KVA.example', 'd@other.test']);
      expect(await queue.hold({ domain: 'xn--bcher-kva.example' })).toEqual({ recipients: 2, inFlight: 0 });
      expect((await queue.lease('n', 10, 60_000)).map((g) => g.domain)).toEqual(['other.test']);
      expect(await queue.unhold({ domain: 'Bücher.example.' })).toBe(2);
      expect(await queue.deletePending({ domain: 'bücher.example' })).toEqual({ recipients: 2, messages: 0, inFlight: 0 });
    });

    it.skipIf(!available)('a hold during an attempt lets it finish but keeps a deferral from being tried again', async () => {
      const queue = await makeQueue();
      const { id } = await put(queue, 'a@s.test', ['b@a.test']);
      const [group] = await queue.lease('n', 10, 60_000);
      expect(await queue.hold({ all: true })).toEqual({ recipients: 1, inFlight: 1 });
      await queue.settle(id, group.lease, [{ recipientId: group.recipients[0].id, state: 'queued', reply: '451 later', nextAttemptAt: Date.now() - 1000 }]);
      expect(await queue.lease('n', 10, 60_000)).toEqual([]);
      expect(await queue.unhold({ all: true })).toBe(1);
      expect(await queue.lease('n', 10, 60_000)).toHaveLength(1);
    });

    it.skipIf(!available)('deletes by domain and by sender, leaves recipients under a lease, and finishes what has nothing left', async () => {
      const queue = await makeQueue();
      const one = await put(queue, 'Alice@S.test', ['b@a.test', 'c@b.test']);
      const two = await put(queue, 'bob@s.test', ['d@a.test']);
      const three = await put(queue, '', ['e@c.test']);
      expect(await queue.deletePending({ domain: 'a.test' })).toEqual({ recipients: 2, messages: 1, inFlight: 0 });
      expect(await queue.show(two.id)).toBeNull();
      expect((await queue.show(one.id))!.recipients.map((r) => r.address)).toEqual(['c@b.test']);
      const [group] = await queue.lease('n', 10, 60_000, { skipDomains: ['c.test'] });
      expect(group.messageId).toBe(one.id);
      expect(await queue.deletePending({ sender: '<alice@s.test>' })).toEqual({ recipients: 0, messages: 0, inFlight: 1 });
      expect(await queue.deletePending({ sender: '<>' })).toEqual({ recipients: 1, messages: 1, inFlight: 0 });
      expect(await queue.show(three.id)).toBeNull();
      expect(await queue.totals()).toEqual({ messages: 1, bytes: 20, recipients: { queued: 0, held: 0, leased: 1 } });
    });

    it.skipIf(!available)('a message with a delivered recipient is finished, not removed, when the rest is deleted', async () => {
      const queue = await makeQueue();
      const { id } = await put(queue, 'a@s.test', ['b@a.test', 'c@b.test']);
      const groups = await queue.lease('n', 10, 60_000, { skipDomains: ['b.test'] });
      await queue.settle(id, groups[0].lease, [{ recipientId: groups[0].recipients[0].id, state: 'delivered', reply: '250 ok' }]);
      expect(await queue.deletePending({ all: true })).toEqual({ recipients: 1, messages: 1, inFlight: 0 });
      expect((await queue.show(id))!.recipients.map((r) => r.state)).toEqual(['delivered']);
      expect(await queue.list({ state: 'active' })).toEqual([]);
      // Finished means the body is gone at rest too.
      await expect((async () => {
        for await (const chunk of await queue.openBody(id)) void chunk;
      })()).rejects.toThrow();
      expect(await queue.totals()).toEqual({ messages: 0, bytes: 0, recipients: { queued: 0, held: 0, leased: 0 } });
    });

    it.skipIf(!available)('flush makes deferred mail due now', async () => {
      const queue = await makeQueue();
      const { id } = await put(queue, 'a@s.test', ['b@a.test']);
      const [group] = await queue.lease('n', 10, 60_000);
      await queue.settle(id, group.lease, [{ recipientId: group.recipients[0].id, state: 'queued', reply: '451 later', nextAttemptAt: Date.now() + 3_600_000 }]);
      expect(await queue.lease('n', 10, 60_000)).toEqual([]);
      expect(await queue.flush()).toBe(1);
      expect(await queue.lease('n', 10, 60_000)).toHaveLength(1);
    });
  });
}
