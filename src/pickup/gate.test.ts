import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import type { GateOptions } from './gate.ts';
import { PickupStore } from './sealed-store.ts';
import { pickupFailure } from '../../test/helpers/pickup-failure.ts';

const WRONG = 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`pickup gate on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());
    let now = 1_000_000;

    async function setup(gate: GateOptions = {}): Promise<PickupStore> {
      now = 1_000_000;
      current = await openTestStore(dialect);
      return new PickupStore({ store: current.store, masterKey: randomBytes(32), dataDir: current.dir, clock: { now: () => now }, gate });
    }

    const create = (pickup: PickupStore, verification: 'link' | 'code' = 'link') =>
      pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'gated', verification, parts: [] });

    it.skipIf(!available)('locks a message after 10 failed attempts in a row', async () => {
      const pickup = await setup({ ipAttempts: 1000 });
      const { id, messagePassword } = await create(pickup);
      for (let i = 0; i < 9; i++) expect(await pickupFailure(pickup.open(id, { password: WRONG }))).toBe('wrong-credentials');
      // A success in between starts the count again.
      await pickup.open(id, { password: messagePassword });
      for (let i = 0; i < 9; i++) await pickupFailure(pickup.open(id, { password: WRONG }));
      expect(await pickupFailure(pickup.open(id, { password: WRONG }))).toBe('wrong-credentials');
      expect(await pickupFailure(pickup.open(id, { password: messagePassword }))).toBe('locked');
      const row = await current!.store.db.selectFrom('pickup_messages').select(['state', 'failed_attempts']).where('id', '=', id).executeTakeFirstOrThrow();
      expect(row).toEqual({ state: 'locked', failed_attempts: 10 });
      const kinds = (await pickup.events(id)).map((e) => e.kind);
      expect(kinds.filter((k) => k === 'failed-attempt')).toHaveLength(19);
      expect(kinds.filter((k) => k === 'locked')).toHaveLength(1);
      // A locked message can still be retracted or expire.
      expect(await pickup.retract(id)).toBe(true);
    });

    it.skipIf(!available)('limits attempts per address, refills over time, and gives successes back', async () => {
      const pickup = await setup({ ipAttempts: 3, ipWindowMs: 60_000 });
      const first = await create(pickup);
      const second = await create(pickup);
      for (let i = 0; i < 3; i++) await pickup.open(first.id, { password: first.messagePassword }, { ip: '127.0.0.5' });
      for (let i = 0; i < 3; i++) expect(await pickupFailure(pickup.open(first.id, { password: WRONG }, { ip: '127.0.0.5' }))).toBe('wrong-credentials');
      // The budget is per address, across messages, and spent before any key work.
      const limited = pickup.open(second.id, { password: second.messagePassword }, { ip: '127.0.0.5' });
      await expect(limited).rejects.toThrow(/Too many attempts from your address\. Wait 1 minute/);
      expect(await pickupFailure(pickup.open(second.id, { password: second.messagePassword }, { ip: '127.0.0.5' }))).toBe('rate-limited');
      expect((await pickup.open(second.id, { password: second.messagePassword }, { ip: '127.0.0.6' })).subject).toBe('gated');
      now += 20_000; // a third of the window gives one attempt back
      expect((await pickup.open(second.id, { password: second.messagePassword }, { ip: '127.0.0.5' })).subject).toBe('gated');
      expect(await pickupFailure(pickup.open(second.id, { password: WRONG }, { ip: '127.0.0.5' }))).toBe('wrong-credentials');
      expect(await pickupFailure(pickup.open(second.id, { password: WRONG }, { ip: '127.0.0.5' }))).toBe('rate-limited');
      // Rate-limited attempts never reached the message's count.
      const row = await current!.store.db.selectFrom('pickup_messages').select('failed_attempts').where('id', '=', second.id).executeTakeFirstOrThrow();
      expect(row.failed_attempts).toBe(1);
    });

    it.skipIf(!available)('one-time codes: 6 digits, stored hashed, used once, checked only behind the right password', async () => {
      const pickup = await setup({ ipAttempts: 1000 });
      const { id, messagePassword } = await create(pickup, 'code');
      const code = await pickup.gate.issueCode(id);
      expect(code).toMatch(/^\d{6}$/);
      const stored = await current!.store.db.selectFrom('pickup_codes').selectAll().where('message_id', '=', id).executeTakeFirstOrThrow();
      expect(Buffer.from(stored.code_hash).length).toBe(32);
      expect(Buffer.from(stored.code_hash).includes(code)).toBe(false);
      // A wrong password does not spend the code's tries.
      for (let i = 0; i < 6; i++) await pickupFailure(pickup.open(id, { password: WRONG, code }));
      expect(await pickupFailure(pickup.open(id, { password: messagePassword }))).toBe('wrong-credentials');
      const opened = await pickup.open(id, { password: messagePassword, code: ` ${code.slice(0, 3)} ${code.slice(3)}` });
      expect(opened.subject).toBe('gated');
      // Used up: the next open needs a new code.
      expect(await pickupFailure(pickup.open(id, { password: messagePassword, code }))).toBe('code-expired');
      await expect(pickup.gate.issueCode((await create(pickup)).id)).rejects.toThrow(/not verified by code/);
      expect(await pickupFailure(pickup.gate.issueCode('y'.repeat(22)))).toBe('not-found');
    });

    it.skipIf(!available)('a code allows 5 tries and lives 10 minutes; a new code replaces the old', async () => {
      const pickup = await setup({ ipAttempts: 1000, maxFailures: 100 });
      const { id, messagePassword } = await create(pickup, 'code');
      const code = await pickup.gate.issueCode(id);
      const wrong = code === '000000' ? '111111' : '000000';
      for (let i = 0; i < 5; i++) expect(await pickupFailure(pickup.open(id, { password: messagePassword, code: wrong }))).toBe('wrong-credentials');
      expect(await pickupFailure(pickup.open(id, { password: messagePassword, code }))).toBe('code-expired');

      const second = await pickup.gate.issueCode(id);
      now += 10 * 60_000;
      expect(await pickupFailure(pickup.open(id, { password: messagePassword, code: second }))).toBe('code-expired');

      const third = await pickup.gate.issueCode(id);
      const fourth = await pickup.gate.issueCode(id);
      if (third !== fourth) expect(await pickupFailure(pickup.open(id, { password: messagePassword, code: third }))).toBe('wrong-credentials');
      expect((await pickup.open(id, { password: messagePassword, code: fourth })).subject).toBe('gated');
      // Wrong codes count as failed attempts of the message too.
      expect((await pickup.events(id)).filter((e) => e.kind === 'failed-attempt').length).toBeGreaterThanOrEqual(5);
    });
  });
}
