import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { pickupFailure } from '../../test/helpers/pickup-failure.ts';
import { createVault } from '../vault/index.ts';
import { legacyAnswerForm } from './answers.ts';
import { argon2Share, wrapDataKey } from './keys.ts';
import { PickupStore } from './sealed-store.ts';

/* Opening a question-verified message: the answer compares after normalisation (answers.ts). */

describe('question answers at the gate', () => {
  let current: TestStore | undefined;
  afterEach(async () => current?.cleanup());
  const masterKey = randomBytes(32);

  async function setup(): Promise<PickupStore> {
    current = await openTestStore('sqlite');
    return new PickupStore({ store: current.store, masterKey, dataDir: current.dir, gate: { ipAttempts: 1000 } });
  }
  const create = (pickup: PickupStore, answer: string) =>
    pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'q', verification: 'question', question: 'Where were you born?', passphraseOrAnswer: answer, parts: [] });

  it('ignores case, spacing and punctuation in the answer', async () => {
    const pickup = await setup();
    const { id, messagePassword } = await create(pickup, "St. Mary's Hospital");
    for (const typed of ['st marys hospital', 'ST. MARY’S   HOSPITAL!', ' St Marys Hospital ']) {
      expect((await pickup.open(id, { password: messagePassword, secret: typed })).subject).toBe('q');
    }
    expect(await pickupFailure(pickup.open(id, { password: messagePassword, secret: 'st mary hospital' }))).toBe('wrong-credentials');
  });

  it('keeps opening a message sealed before (answer compared in the old form)', async () => {
    const pickup = await setup();
    const { id, messagePassword } = await create(pickup, 'placeholder');
    const dek = (await pickup.open(id, { password: messagePassword, secret: 'placeholder' })).readKey;
    // Re-seal the key as the release before issue 10 did: the answer only lower-cased and trimmed.
    const row = await current!.store.db.selectFrom('pickup_messages').select('secret_salt').where('id', '=', id).executeTakeFirstOrThrow();
    const serverShare = createVault(masterKey).open(readFileSync(path.join(current!.dir, 'pickup-shares', id)));
    const secretShare = await argon2Share(legacyAnswerForm("St. Mary's"), Buffer.from(row.secret_salt!));
    await current!.store.db.updateTable('pickup_messages').set({ wrapped_dek: wrapDataKey(dek, { serverShare, messagePassword, secretShare, messageId: id }) }).where('id', '=', id).execute();
    expect((await pickup.open(id, { password: messagePassword, secret: "  ST. MARY'S " })).subject).toBe('q');
    expect(await pickupFailure(pickup.open(id, { password: messagePassword, secret: 'placeholder' }))).toBe('wrong-credentials');
  });
});
