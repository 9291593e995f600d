import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { normalizeAlias, Users } from './users.ts';

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

  it('logs in through the budgets; an unknown user costs the same Argon2 verify as a wrong password', async () => {
    current = await openTestStore('sqlite');
    const users = new Users(current.store, { now: () => Date.now() }, { accountMaxFailures: 100, ipMaxFailures: 100, windowMs: 60_000, freeAttempts: 100, baseDelayMs: 0, maxDelayMs: 0 });
    await users.add('alice@example.test', 'correct horse battery');
    expect(await users.login('alice@example.test', 'correct horse battery', '127.0.0.1')).toEqual({ status: 'ok' });
    const time = async (name: string) => {
      const started = process.hrtime.bigint();
      expect(await users.login(name, 'wrong password here', '127.0.0.1')).toEqual({ status: 'invalid' });
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time('alice@example.test'));
      unknown.push(await time(`nobody${i}@example.test`));
    }
    // Both run one Argon2id verify (m=19 MiB, t=2): the ratio stays near 1, far from a skipped hash.
    const ratio = median(unknown) / median(known);
    expect(ratio).toBeGreaterThan(0.4);
    expect(ratio).toBeLessThan(2.5);
  });

  it('keeps what applies to every message of a user: a link requirement, always-pickup', async () => {
    current = await openTestStore('sqlite');
    const users = new Users(current.store, { now: () => 1 });
    await users.add('alice@example.test', 'correct horse battery');
    expect(await users.standingOf('alice@example.test')).toEqual({ requiredLevel: undefined, pickupAlways: false, anonymous: false });
    await users.setRequirement('alice@example.test', 'tls-verified');
    await users.setPickupAlways('alice@example.test', true);
    expect(await users.standingOf('alice@example.test')).toEqual({ requiredLevel: 'tls-verified', pickupAlways: true, anonymous: false });
    expect((await users.list())[0]).toMatchObject({ requiredLevel: 'tls-verified', pickupAlways: true });
    await users.setRequirement('alice@example.test', 'none');
    expect((await users.standingOf('alice@example.test')).requiredLevel).toBeUndefined();
    await expect(users.setRequirement('alice@example.test', 'carrier-pigeon' as never)).rejects.toThrow(/unknown link level/);
    await expect(users.setPickupAlways('nobody', true)).rejects.toThrow(/no user/);
  });
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`sender aliases (${dialect})`, () => {
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    it('owns its own address, aliases and granted domains; removing the user removes them', async (context) => {
      if (dialect === 'postgres' && !(await hasPostgres())) return context.skip();
      current = await openTestStore(dialect);
      const users = new Users(current.store, { now: () => 1 });
      await users.add('Alice@Corp.test', 'correct horse battery');
      expect(await users.addAlias('Alice@Corp.test', 'Sales@Corp.TEST')).toBe('sales@corp.test');
      await users.addAlias('Alice@Corp.test', '@Branch.corp.test');
      await users.addAlias('Alice@Corp.test', 'sales@corp.test'); // twice is harmless
      expect(await users.listAliases('Alice@Corp.test')).toEqual(['@branch.corp.test', 'sales@corp.test']);
      expect(await users.sendersOf('Alice@Corp.test')).toEqual({ addresses: ['alice@corp.test', 'sales@corp.test'], domains: ['branch.corp.test'] });
      expect(await users.removeAlias('Alice@Corp.test', 'SALES@corp.test')).toBe(true);
      expect(await users.removeAlias('Alice@Corp.test', 'sales@corp.test')).toBe(false);
      await expect(users.addAlias('nobody', 'x@corp.test')).rejects.toThrow(/no user/);
      await users.remove('Alice@Corp.test');
      expect(await users.listAliases('Alice@Corp.test')).toEqual([]);
    });
  });
}

describe('normalizeAlias', () => {
  it.each(['bob', '@', 'a@b', 'a b@corp.test', '<a@corp.test>', 'a@corp.test\r\nX: y', '@-corp.test', 'a@@corp.test'])('refuses %j', (alias) => {
    expect(() => normalizeAlias(alias)).toThrow(/invalid alias/);
  });
});
