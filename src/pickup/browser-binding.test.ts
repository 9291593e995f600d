import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { pickupFailure } from '../../test/helpers/pickup-failure.ts';
import { isPickupError } from './keys.ts';
import { PickupStore } from './sealed-store.ts';

/* A message bound to the first browser that opens it (browser-binding.ts, sealed-store.ts `open`). */

const WRONG = 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`browser binding on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());
    let now = 1_000_000;

    async function setup(): Promise<PickupStore> {
      now = 1_000_000;
      current = await openTestStore(dialect);
      return new PickupStore({ store: current.store, masterKey: randomBytes(32), dataDir: current.dir, clock: { now: () => now }, gate: { ipAttempts: 1000 } });
    }
    const create = (pickup: PickupStore, verification: 'link' | 'passphrase' = 'link') =>
      pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'bound', verification, passphraseOrAnswer: verification === 'passphrase' ? 'blue harbour' : undefined, parts: [] });
    const browser = (binding?: string) => ({ ip: '192.0.2.7', browser: { binding } });

    it.skipIf(!available)('binds the first browser; any other needs a fresh code, a forged or foreign token too', async () => {
      const pickup = await setup();
      const a = await create(pickup);
      const b = await create(pickup);
      const first = await pickup.open(a.id, { password: a.messagePassword }, browser());
      expect(first.binding).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(first.newBrowser).toBe(false);
      // The same browser again: no code.
      expect((await pickup.open(a.id, { password: a.messagePassword }, browser(first.binding))).binding).toBe(first.binding);
      // Another browser: the password alone is not enough; a wrong password is still just that.
      expect(await pickupFailure(pickup.open(a.id, { password: a.messagePassword }, browser()))).toBe('code-required');
      expect(await pickupFailure(pickup.open(a.id, { password: WRONG }, browser()))).toBe('wrong-credentials');
      expect(await pickupFailure(pickup.open(a.id, { password: a.messagePassword }, browser(randomBytes(32).toString('base64url'))))).toBe('code-required');
      expect(await pickupFailure(pickup.open(a.id, { password: a.messagePassword }, browser('not a token')))).toBe('code-required');
      // A's token means nothing for B: B binds its own first browser, then refuses A's token.
      const bFirst = await pickup.open(b.id, { password: b.messagePassword }, browser());
      expect(bFirst.binding).not.toBe(first.binding);
      expect(await pickupFailure(pickup.open(b.id, { password: b.messagePassword }, browser(first.binding)))).toBe('code-required');
      // Only hashes are stored.
      const rows = await current!.store.db.selectFrom('pickup_bindings').selectAll().execute();
      expect(rows).toHaveLength(2);
      for (const row of rows) expect([first.binding, bFirst.binding]).not.toContain(row.token_hash);
    });

    it.skipIf(!available)('a new browser opens with a fresh code and is bound too; the code is used up', async () => {
      const pickup = await setup();
      const { id, messagePassword } = await create(pickup);
      const first = await pickup.open(id, { password: messagePassword }, browser());
      const failure = await pickup.open(id, { password: messagePassword }, browser()).catch((error: unknown) => error);
      expect(isPickupError(failure, 'code-required') && failure.newBrowser && failure.field).toBe('code');
      const code = await pickup.gate.issueCode(id, '192.0.2.7', 'new-browser');
      const wrong = code === '000000' ? '111111' : '000000';
      expect(await pickupFailure(pickup.open(id, { password: messagePassword, code: wrong }, browser()))).toBe('wrong-credentials');
      expect((await pickup.describe(id))!.attemptsLeft).toBe(9);
      const second = await pickup.open(id, { password: messagePassword, code }, browser());
      expect(second.newBrowser).toBe(true);
      expect(second.binding).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(second.binding).not.toBe(first.binding);
      // Both browsers now open without a code; the code is gone.
      await pickup.open(id, { password: messagePassword }, browser(first.binding));
      await pickup.open(id, { password: messagePassword }, browser(second.binding));
      expect(await pickupFailure(pickup.open(id, { password: messagePassword, code }, browser()))).toBe('code-expired');
      const opened = (await pickup.events(id)).filter((e) => e.kind === 'opened');
      expect(opened.map((e) => e.detail)).toContain('in a new browser, with a fresh code');
    });

    it.skipIf(!available)('with a passphrase, the code is checked first, and stays valid when only the passphrase was wrong', async () => {
      const pickup = await setup();
      const { id, messagePassword } = await create(pickup, 'passphrase');
      await pickup.open(id, { password: messagePassword, secret: 'blue harbour' }, browser());
      expect(await pickupFailure(pickup.open(id, { password: messagePassword, secret: 'blue harbour' }, browser()))).toBe('code-required');
      const code = await pickup.gate.issueCode(id, '192.0.2.7', 'new-browser');
      const wrongCode = await pickup.open(id, { password: messagePassword, secret: 'wrong', code: code === '000000' ? '111111' : '000000' }, browser()).catch((e: unknown) => e);
      expect(isPickupError(wrongCode) && wrongCode.field).toBe('code');
      const wrongSecret = await pickup.open(id, { password: messagePassword, secret: 'wrong', code }, browser()).catch((e: unknown) => e);
      expect(isPickupError(wrongSecret) && wrongSecret.field).toBe('secret');
      expect((await pickup.open(id, { password: messagePassword, secret: 'blue harbour', code }, browser())).newBrowser).toBe(true);
    });

    it.skipIf(!available)('of two first opens at once, only one binds without a code', async () => {
      const pickup = await setup();
      const { id, messagePassword } = await create(pickup);
      const results = await Promise.allSettled([1, 2, 3].map(() => pickup.open(id, { password: messagePassword }, browser())));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(isPickupError(r.reason, 'code-required')).toBe(true);
    });

    it.skipIf(!available)('tells the sender at most once an hour; withdrawal drops the bindings', async () => {
      const pickup = await setup();
      const { id, messagePassword } = await create(pickup);
      await pickup.open(id, { password: messagePassword }, browser());
      expect(await pickup.gate.newBrowser(id, '192.0.2.8')).toBe(true);
      await pickup.recordEvent(id, 'new-browser-notice-sent');
      expect(await pickup.gate.newBrowser(id, '192.0.2.9')).toBe(false);
      now += 61 * 60_000;
      expect(await pickup.gate.newBrowser(id, '192.0.2.9')).toBe(true);
      expect((await pickup.events(id)).filter((e) => e.kind === 'new-browser').map((e) => e.ip)).toEqual(['192.0.2.8', '192.0.2.9', '192.0.2.9']);
      await pickup.retract(id);
      expect(await current!.store.db.selectFrom('pickup_bindings').selectAll().where('message_id', '=', id).execute()).toEqual([]);
    });
  });
}
