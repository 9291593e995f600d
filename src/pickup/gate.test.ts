import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import type { GateOptions } from './gate.ts';
import { isPickupError } from './keys.ts';
import { PickupStore } from './sealed-store.ts';
import { pickupFailure } from '../../test/helpers/pickup-failure.ts';

const WRONG = 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA';
/** The failure reason, or 'ok'. */
const outcome = (promise: Promise<unknown>): Promise<string> => promise.then(() => 'ok', (error: unknown) => (isPickupError(error) ? error.reason : Promise.reject(error)));

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

    const createSecret = (pickup: PickupStore) =>
      pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'gated', verification: 'passphrase', passphraseOrAnswer: 'blue harbour', parts: [] });

    it.skipIf(!available)('a wrong message password never locks: it costs only the network budget', async () => {
      const pickup = await setup({ ipAttempts: 1000 });
      const { id, messagePassword } = await create(pickup);
      for (let i = 0; i < 25; i++) expect(await pickupFailure(pickup.open(id, { password: WRONG }))).toBe('wrong-credentials');
      expect((await pickup.open(id, { password: messagePassword })).subject).toBe('gated');
      const row = await current!.store.db.selectFrom('pickup_messages').select(['state', 'failed_attempts']).where('id', '=', id).executeTakeFirstOrThrow();
      expect(row).toEqual({ state: 'active', failed_attempts: 0 });
      const failed = (await pickup.events(id)).filter((e) => e.kind === 'failed-attempt');
      expect(failed).toHaveLength(25);
      expect(failed[0].detail).toBe('wrong message password');
    });

    it.skipIf(!available)('counts only checks of the passphrase behind the right password; locks at 10; the sender unlocks', async () => {
      const pickup = await setup({ ipAttempts: 1000 });
      const { id, messagePassword } = await createSecret(pickup);
      for (let i = 0; i < 5; i++) expect(await pickupFailure(pickup.open(id, { password: WRONG, secret: 'guess' }))).toBe('wrong-credentials');
      expect((await pickup.describe(id))!.attemptsLeft).toBe(10);
      await expect(pickup.open(id, { password: messagePassword, secret: 'guess' })).rejects.toThrow(/not right\. 9 attempts left before the message locks\./);
      // A success gives back its own reservation only: the earlier failure stays counted.
      expect((await pickup.open(id, { password: messagePassword, secret: ' blue harbour ' })).subject).toBe('gated');
      expect((await pickup.describe(id))!.attemptsLeft).toBe(9);
      for (let i = 0; i < 8; i++) expect(await pickupFailure(pickup.open(id, { password: messagePassword, secret: `guess ${i}` }))).toBe('wrong-credentials');
      expect(await pickupFailure(pickup.open(id, { password: messagePassword, secret: 'last guess' }))).toBe('locked');
      expect(await pickupFailure(pickup.open(id, { password: messagePassword, secret: 'blue harbour' }))).toBe('locked');
      const kinds = (await pickup.events(id)).map((e) => e.kind);
      expect(kinds.filter((k) => k === 'locked')).toHaveLength(1);
      expect(await pickup.gate.unlock(id, 'a@x.test', '127.0.0.9')).toBe(true);
      expect((await pickup.describe(id))!).toMatchObject({ state: 'active', attemptsLeft: 10 });
      expect((await pickup.events(id)).at(-1)).toMatchObject({ kind: 'unlocked', ip: '127.0.0.9', detail: 'by a@x.test' });
      expect((await pickup.open(id, { password: messagePassword, secret: 'blue harbour' })).subject).toBe('gated');
      // A locked message can still be retracted or expire.
      expect(await pickup.retract(id)).toBe(true);
    });

    it.skipIf(!available)('parallel guesses cannot pass the lock: at most 10 reach Argon2', async () => {
      const pickup = await setup({ ipAttempts: 1000 });
      const { id, messagePassword } = await createSecret(pickup);
      const guesses = Array.from({ length: 30 }, (_, i) => outcome(pickup.open(id, { password: messagePassword, secret: i === 20 ? 'blue harbour' : `guess ${i}` })));
      const results = await Promise.all(guesses);
      expect(results.filter((r) => r === 'wrong-credentials').length + results.filter((r) => r === 'ok').length).toBeLessThanOrEqual(10);
      expect(results.filter((r) => r === 'locked').length).toBeGreaterThanOrEqual(20);
      expect((await pickup.events(id)).filter((e) => e.kind === 'failed-attempt').length).toBeLessThanOrEqual(10);
    });

    it.skipIf(!available)('limits attempts per address within a window, and gives successes back', async () => {
      const pickup = await setup({ ipAttempts: 3, ipWindowMs: 60_000 });
      const first = await create(pickup);
      const second = await create(pickup);
      for (let i = 0; i < 3; i++) await pickup.open(first.id, { password: first.messagePassword }, { ip: '127.0.0.5' });
      for (let i = 0; i < 3; i++) expect(await pickupFailure(pickup.open(first.id, { password: WRONG }, { ip: '127.0.0.5' }))).toBe('wrong-credentials');
      // The budget is per address, across messages, and spent before any key work.
      const limited = pickup.open(second.id, { password: second.messagePassword }, { ip: '127.0.0.5' });
      await expect(limited).rejects.toThrow(/Too many attempts from your address\. Wait 60 seconds/);
      expect((await pickup.open(second.id, { password: second.messagePassword }, { ip: '127.0.0.6' })).subject).toBe('gated');
      // IPv6 clients share the budget of their /64.
      for (let i = 0; i < 3; i++) await pickupFailure(pickup.open(first.id, { password: WRONG }, { ip: `2001:db8:1:2::${i + 1}` }));
      expect(await pickupFailure(pickup.open(second.id, { password: second.messagePassword }, { ip: '2001:db8:1:2:ffff::9' }))).toBe('rate-limited');
      now += 60_000;
      expect((await pickup.open(second.id, { password: second.messagePassword }, { ip: '127.0.0.5' })).subject).toBe('gated');
    });

    it.skipIf(!available)('one-time codes: 6 digits, stored hashed, several live, used once, checked only behind the right password', async () => {
      const pickup = await setup({ ipAttempts: 1000 });
      const { id, messagePassword } = await create(pickup, 'code');
      const code = await pickup.gate.issueCode(id);
      expect(code).toMatch(/^\d{6}$/);
      const stored = await current!.store.db.selectFrom('pickup_code_issues').selectAll().where('message_id', '=', id).executeTakeFirstOrThrow();
      expect(Buffer.from(stored.code_hash).length).toBe(32);
      expect(Buffer.from(stored.code_hash).includes(code)).toBe(false);
      // A wrong password does not spend the message's attempts.
      for (let i = 0; i < 12; i++) await pickupFailure(pickup.open(id, { password: WRONG, code }));
      expect((await pickup.describe(id))!.attemptsLeft).toBe(10);
      expect(await pickupFailure(pickup.open(id, { password: messagePassword }))).toBe('wrong-credentials');
      // A second code does not cancel the first.
      const second = await pickup.gate.issueCode(id);
      const opened = await pickup.open(id, { password: messagePassword, code: ` ${code.slice(0, 3)} ${code.slice(3)}` });
      expect(opened.subject).toBe('gated');
      // Used up, all of them: the next open needs a new code.
      expect(await pickupFailure(pickup.open(id, { password: messagePassword, code: second }))).toBe('code-expired');
      expect((await pickup.describe(id))!.attemptsLeft).toBe(9);
      await expect(pickup.gate.issueCode((await create(pickup)).id)).rejects.toThrow(/not verified by code/);
      expect(await pickupFailure(pickup.gate.issueCode('y'.repeat(22)))).toBe('not-found');
    });

    it.skipIf(!available)('codes live 10 minutes; at most 3 per message and 10 per recipient an hour', async () => {
      const pickup = await setup({ ipAttempts: 1000, maxFailures: 100 });
      const { id, messagePassword } = await create(pickup, 'code');
      const first = await pickup.gate.issueCode(id);
      now += 10 * 60_000;
      expect(await pickupFailure(pickup.open(id, { password: messagePassword, code: first }))).toBe('code-expired');
      await pickup.gate.issueCode(id);
      await pickup.gate.issueCode(id);
      await expect(pickup.gate.issueCode(id)).rejects.toThrow(/Enough codes were e-mailed for now/);
      const others = await Promise.all(Array.from({ length: 4 }, () => create(pickup, 'code')));
      const sent = await Promise.all(others.flatMap((m) => [outcome(pickup.gate.issueCode(m.id)), outcome(pickup.gate.issueCode(m.id))]));
      // 3 went to b@y.test already; 7 more this hour.
      expect(sent.filter((r) => r === 'ok')).toHaveLength(7);
      expect(sent.filter((r) => r === 'rate-limited')).toHaveLength(1);
      now += 3_600_000;
      expect(await pickup.gate.issueCode(id)).toMatch(/^\d{6}$/);
    });
  });
}
