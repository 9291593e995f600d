import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { PickupStore } from './sealed-store.ts';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`retention of withdrawn pickups on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    let now = 1_800_000_000_000;
    const clock = { now: () => now };
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    it.skipIf(!available)('removes the record of a pickup withdrawn before the cutoff, never an active one or a recent withdrawal', async () => {
      current = await openTestStore(dialect);
      const pickup = new PickupStore({ store: current.store, masterKey: randomBytes(32), dataDir: current.dir, clock, gate: { ipAttempts: 1000, clock } });
      const make = (subject: string) => pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject, verification: 'link', parts: [{ kind: 'text', contentType: 'text/plain', content: Buffer.from('hello') }] } as never);
      const old = await make('old');
      const active = await make('active');
      await pickup.retract(old.id);
      now += 10 * 86_400_000;
      const recent = await make('recent');
      await pickup.retract(recent.id);
      now += 86_400_000;
      const heard: string[][] = [];
      expect(await pickup.purgeWithdrawn(now - 5 * 86_400_000, async (ids) => void heard.push(ids))).toBe(1);
      expect(heard).toEqual([[old.id]]); // the audit's message.purged hears exactly what went
      const left = await current.store.db.selectFrom('pickup_messages').select('id').orderBy('id').execute();
      expect(left.map((r) => r.id).sort()).toEqual([active.id, recent.id].sort());
      expect(await current.store.db.selectFrom('pickup_events').select('message_id').where('message_id', '=', old.id).execute()).toEqual([]);
      expect(await current.store.db.selectFrom('pickup_parts').select('message_id').where('message_id', '=', old.id).execute()).toEqual([]);
      // An active message older than any cutoff stays: only withdrawal starts its clock.
      expect(await pickup.purgeWithdrawn(now + 1)).toBe(1);
      expect((await pickup.open(active.id, { password: active.messagePassword })).subject).toBe('active');
    });
  });
}
