import { afterEach, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { Users } from './users.ts';

describe('users', () => {
  let current: TestStore | undefined;
  afterEach(async () => current?.cleanup());

  it('stores Argon2id hashes and authenticates', async () => {
    current = await openTestStore('sqlite');
    const users = new Users(current.store, { now: () => 1 });
    await users.add('alice@example.test', 'correct horse battery');
    const row = await current.store.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(await users.authenticate('alice@example.test', 'correct horse battery')).toBe(true);
    expect(await users.authenticate('alice@example.test', 'wrong')).toBe(false);
    expect(await users.authenticate('nobody', 'correct horse battery')).toBe(false);
    await expect(users.add('alice@example.test', 'another long password')).rejects.toThrow(/exists/);
    await expect(users.add('bob', 'short')).rejects.toThrow(/too short/);
    await expect(users.add('bad name', 'long enough password')).rejects.toThrow(/invalid user name/);
  });

  it('keeps what applies to every message of a user: a link requirement, always-pickup', async () => {
    current = await openTestStore('sqlite');
    const users = new Users(current.store, { now: () => 1 });
    await users.add('alice@example.test', 'correct horse battery');
    expect(await users.standingOf('alice@example.test')).toEqual({ requiredLevel: undefined, pickupAlways: false });
    await users.setRequirement('alice@example.test', 'tls-verified');
    await users.setPickupAlways('alice@example.test', true);
    expect(await users.standingOf('alice@example.test')).toEqual({ requiredLevel: 'tls-verified', pickupAlways: true });
    expect((await users.list())[0]).toMatchObject({ requiredLevel: 'tls-verified', pickupAlways: true });
    await users.setRequirement('alice@example.test', 'none');
    expect((await users.standingOf('alice@example.test')).requiredLevel).toBeUndefined();
    await expect(users.setRequirement('alice@example.test', 'carrier-pigeon' as never)).rejects.toThrow(/unknown link level/);
    await expect(users.setPickupAlways('nobody', true)).rejects.toThrow(/no user/);
  });
});
