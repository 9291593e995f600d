import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import type { HeldFilter } from './held-pickups.ts';
import { PickupStore } from './sealed-store.ts';

const DAY_MS = 86_400_000;
const text = (content: string) => ({ kind: 'text' as const, contentType: 'text/plain', content });

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`the admin's list of held pickups on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    let now = Date.now();
    async function setup(): Promise<PickupStore> {
      current = await openTestStore(dialect);
      // Each reading of the clock a second later, so "newest first" is well defined.
      now = Date.now();
      const clock = { now: () => (now += 1000) };
      return new PickupStore({ store: current.store, masterKey: randomBytes(32), dataDir: current.dir, clock, gate: { ipAttempts: 1000, maxFailures: 2, clock } });
    }

    it.skipIf(!available)('shows each state, the opens and replies, filters by sender, recipient and state, pages, and reads nothing sealed', async () => {
      const pickup = await setup();
      const waiting = await pickup.create({ sender: 'Alice@Clinic.test', recipient: 'bob@patient.test', subject: 'SECRET-SUBJECT', verification: 'link', parts: [text('SECRET-BODY')] });
      const opened = await pickup.create({ sender: 'alice@clinic.test', recipient: 'carol@patient.test', subject: 'x', verification: 'link', parts: [text('hi')] });
      const locked = await pickup.create({ sender: 'dave@clinic.test', recipient: 'bob@patient.test', subject: 'x', verification: 'passphrase', passphraseOrAnswer: 'blue moon', parts: [text('hi')] });
      const retracted = await pickup.create({ sender: 'dave@clinic.test', recipient: 'eve_1@patient.test', subject: 'x', verification: 'link', parts: [text('hi')] });
      const expired = await pickup.create({ sender: 'dave@clinic.test', recipient: 'frank@patient.test', subject: 'x', verification: 'link', parts: [text('hi')], expiresInDays: 1 });
      const first = await pickup.open(opened.id, { password: opened.messagePassword });
      await pickup.open(opened.id, { password: opened.messagePassword });
      const replyId = await pickup.replies.create(first, { text: 'Thanks' });
      for (let i = 0; i < 2; i++) await pickup.open(locked.id, { password: locked.messagePassword, secret: 'wrong' }).catch(() => undefined);
      await pickup.retract(retracted.id);
      now += 2 * DAY_MS; // past the 1-day expiry, before any sweep wrote it

      const list = async (filter: HeldFilter = {}) => (await pickup.held.list(filter)).pickups;
      const all = await list();
      expect(all.map((p) => [p.id, p.state])).toEqual([
        [replyId, 'waiting'], [expired.id, 'expired'], [retracted.id, 'retracted'], [locked.id, 'locked'], [opened.id, 'opened'], [waiting.id, 'waiting'],
      ]);
      expect(all.find((p) => p.id === opened.id)).toMatchObject({ sender: 'alice@clinic.test', recipient: 'carol@patient.test', opens: 2, isReply: false });
      expect(all.find((p) => p.id === replyId)).toMatchObject({ sender: 'carol@patient.test', recipient: 'alice@clinic.test', opens: 0, isReply: true });
      expect(JSON.stringify(all)).not.toMatch(/SECRET/);

      const ids = async (filter: HeldFilter) => (await list(filter)).map((p) => p.id);
      expect(await ids({ sender: 'ALICE@clinic' })).toEqual([opened.id, waiting.id]);
      expect(await ids({ recipient: 'bob@', state: 'locked' })).toEqual([locked.id]);
      expect(await ids({ state: 'waiting' })).toEqual([replyId, waiting.id]);
      expect(await ids({ state: 'opened' })).toEqual([opened.id]);
      expect(await ids({ state: 'expired' })).toEqual([expired.id]);
      expect(await ids({ state: 'retracted' })).toEqual([retracted.id]);
      // LIKE's own characters match only themselves: `_` is not "any one character", `%` not "anything".
      expect(await ids({ recipient: 'eve_1' })).toEqual([retracted.id]);
      expect(await ids({ recipient: 'bob_patient' })).toEqual([]);
      expect(await ids({ sender: '%' })).toEqual([]);

      const page1 = await pickup.held.list({ limit: 4 });
      const page2 = await pickup.held.list({ limit: 4, offset: 4 });
      expect(page1.more).toBe(true);
      expect(page2.more).toBe(false);
      expect([...page1.pickups, ...page2.pickups].map((p) => p.id)).toEqual(all.map((p) => p.id));
    });
  });
}
