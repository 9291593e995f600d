import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { PickupStore } from './sealed-store.ts';

const text = (content: string) => ({ kind: 'text' as const, contentType: 'text/plain', content });
const file = (filename: string) => ({ kind: 'attachment' as const, contentType: 'application/pdf', filename, content: Buffer.from(`%PDF ${filename}`) });

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`the sender's messages on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    async function setup(): Promise<PickupStore> {
      current = await openTestStore(dialect);
      // Each reading of the clock a second later, so "newest first" is well defined.
      let now = Date.now();
      const clock = { now: () => (now += 1000) };
      return new PickupStore({ store: current.store, masterKey: randomBytes(32), dataDir: current.dir, clock, gate: { ipAttempts: 1000, clock } });
    }

    it.skipIf(!available)('groups a composition, shows its sealed subject and files, searches them, and loses them on retraction', async () => {
      const pickup = await setup();
      const composition = 'c-lab-results';
      const first = await pickup.create({ sender: 'a@x.test', recipient: 'bob@y.test', subject: 'Lab results March', verification: 'link', parts: [text('hi'), file('blood-count.pdf')], composition });
      const second = await pickup.create({ sender: 'a@x.test', recipient: 'carol@z.test', subject: 'Lab results March', verification: 'link', parts: [text('hi'), file('blood-count.pdf')], composition });
      const alone = await pickup.create({ sender: 'a@x.test', recipient: 'dave@y.test', subject: 'Invoice 42', verification: 'link', parts: [] });
      await pickup.create({ sender: 'other@x.test', recipient: 'bob@y.test', subject: 'Not yours', verification: 'link', parts: [] });

      const { compositions, truncated } = await pickup.sent.list('a@x.test');
      expect(truncated).toBe(false);
      expect(compositions.map((c) => c.key)).toEqual([alone.id, composition]);
      expect(compositions[1]!.view).toEqual({ subject: 'Lab results March', attachments: ['blood-count.pdf'] });
      expect(compositions[1]!.messages.map((m) => m.recipient)).toEqual(['bob@y.test', 'carol@z.test']);

      const keys = async (query: string) => (await pickup.sent.list('a@x.test', { query })).compositions.map((c) => c.key);
      expect(await keys('lab RESULTS')).toEqual([composition]);
      expect(await keys('blood-count')).toEqual([composition]);
      expect(await keys('dave@')).toEqual([alone.id]);
      expect(await keys('Not yours')).toEqual([]);
      expect(await pickup.sent.message('other@x.test', first.id)).toBeUndefined();
      expect(await pickup.sent.composition('other@x.test', first.id)).toEqual([]);
      expect((await pickup.sent.composition('a@x.test', first.id)).map((m) => m.id).sort()).toEqual([first.id, second.id].sort());

      // One retracted: the composition still shows the subject from the other; its own view is gone.
      await pickup.retract(first.id);
      expect((await pickup.sent.message('a@x.test', first.id))?.view).toBeNull();
      expect((await pickup.sent.list('a@x.test')).compositions[1]!.view?.subject).toBe('Lab results March');
      await pickup.retract(second.id);
      const after = (await pickup.sent.list('a@x.test')).compositions[1]!;
      expect(after.view).toBeNull();
      expect(after.messages.map((m) => m.state)).toEqual(['retracted', 'retracted']);
      expect(await keys('lab results')).toEqual([]);
      const rows = await current!.store.db.selectFrom('pickup_messages').select(['id', 'sender_view_sealed']).where('id', 'in', [first.id, second.id]).execute();
      expect(rows.map((r) => r.sender_view_sealed)).toEqual([null, null]);
    });

    it.skipIf(!available)('lists a reply under its message only, and a thread only between its two parties', async () => {
      const pickup = await setup();
      const { id, messagePassword } = await pickup.create({ sender: 'a@x.test', recipient: 'bob@y.test', subject: 'Offer', verification: 'link', parts: [text('offer')] });
      const opened = await pickup.open(id, { password: messagePassword });
      await pickup.replies.create(opened, { text: 'yes' });
      const next = await pickup.create({ sender: 'a@x.test', recipient: 'bob@y.test', subject: 'Re: Offer', verification: 'link', parts: [text('good')], thread: id });
      await pickup.create({ sender: 'mallory@x.test', recipient: 'bob@y.test', subject: 'Re: Offer', verification: 'link', parts: [], thread: id });
      // The reply's sender (bob) has no list of it: it shows under the message it answers.
      expect((await pickup.sent.list('bob@y.test')).compositions).toEqual([]);
      expect((await pickup.sent.thread(id, 'a@x.test', 'bob@y.test')).map((m) => m.id)).toEqual([id, next.id]);
      expect(await pickup.sent.thread(id, 'a@x.test', 'carol@y.test')).toEqual([]);
      expect((await pickup.sent.message('a@x.test', next.id))?.threadId).toBe(id);
      // Two messages and the reply, from either message; mallory's and a stranger's see nothing.
      expect(await pickup.sent.threadSize('a@x.test', next.id, 'bob@y.test')).toEqual({ threadId: id, entries: 3 });
      expect(await pickup.sent.threadSize('a@x.test', id, 'bob@y.test')).toEqual({ threadId: id, entries: 3 });
      expect(await pickup.sent.threadSize('a@x.test', id, 'carol@y.test')).toEqual({ threadId: id, entries: 0 });
      expect(await pickup.sent.threadSize('mallory@x.test', id, 'bob@y.test')).toBeUndefined();
    });

    it.skipIf(!available)('counts a message alone in its thread as one entry', async () => {
      const pickup = await setup();
      const { id } = await pickup.create({ sender: 'a@x.test', recipient: 'bob@y.test', subject: 'Alone', verification: 'link', parts: [text('hi')] });
      expect(await pickup.sent.threadSize('a@x.test', id, 'bob@y.test')).toEqual({ threadId: id, entries: 1 });
    });

    it.skipIf(!available)('reads at most the limit of newest messages and says so', async () => {
      const pickup = await setup();
      for (let i = 0; i < 4; i++) await pickup.create({ sender: 'a@x.test', recipient: `r${i}@y.test`, subject: `n${i}`, verification: 'link', parts: [] });
      const { compositions, truncated } = await pickup.sent.list('a@x.test', { limit: 3 });
      expect(truncated).toBe(true);
      expect(compositions).toHaveLength(3);
    });
  });
}
