import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { afterEach, describe, expect, it } from 'vitest';
import { createVault } from '../../vault/index.ts';
import { hasPostgres, openTestStore, type TestStore } from '../../../test/helpers/stores.ts';
import { E2eKeyStore } from './repository.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY = 24 * 3600 * 1000;

async function key(email: string, options: { date?: Date; expiresInSeconds?: number } = {}) {
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Test', email }], format: 'binary', date: options.date ?? new Date(NOW.getTime() - DAY), keyExpirationTime: options.expiresInSeconds ?? 0 });
  const fingerprint = (await openpgp.readKey({ binaryKey: publicKey })).getFingerprint();
  return { privateKey, publicKey, fingerprint };
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe.skipIf(dialect === 'postgres' && !(await hasPostgres()))(`e2e key store on ${dialect}`, () => {
    let t: TestStore;
    afterEach(async () => t?.cleanup());
    const open = async () => {
      t = await openTestStore(dialect);
      return new E2eKeyStore(t.store, createVault(randomBytes(32)));
    };

    it('keeps a user key sealed, gives it back opened, and prefers it for its address', async () => {
      const keys = await open();
      const alice = await key('alice@corp.test');
      const info = await keys.addUserOpenPgpKey(alice.privateKey, NOW);
      expect(info).toMatchObject({ kind: 'openpgp', address: 'alice@corp.test', fingerprint: alice.fingerprint });
      const row = await t.store.db.selectFrom('e2e_user_keys').selectAll().executeTakeFirstOrThrow();
      // Not in the clear: the secret key bytes do not appear in the row.
      expect(Buffer.from(row.private_sealed).includes(Buffer.from(alice.privateKey).subarray(-40))).toBe(false);
      const opened = await keys.userPrivateKey('Alice@corp.test', 'openpgp', NOW);
      expect(Buffer.from(opened!.key).equals(Buffer.from(alice.privateKey))).toBe(true);
      expect(await keys.bestKeyFor('alice@corp.test', 'openpgp', NOW)).toMatchObject({ source: 'own', fingerprint: alice.fingerprint });
    });

    it('chooses by source precedence, and never an expired or superseded key', async () => {
      const keys = await open();
      const harvested = await key('bob@partner.test');
      const fromWkd = await key('bob@partner.test');
      const imported = await key('bob@partner.test', { date: new Date(NOW.getTime() - 10 * DAY), expiresInSeconds: 5 * 24 * 3600 });
      await keys.addPeerKeys(harvested.publicKey, 'harvested', NOW, 'bob@partner.test');
      expect((await keys.bestKeyFor('bob@partner.test', 'openpgp', NOW))?.source).toBe('harvested');
      await keys.applyWkdAnswer('bob@partner.test', fromWkd.publicKey, NOW);
      expect(await keys.bestKeyFor('bob@partner.test', 'openpgp', NOW)).toMatchObject({ source: 'wkd', fingerprint: fromWkd.fingerprint });
      // An import outranks WKD, but this one expired: WKD's key stays the one used.
      await keys.addPeerKeys(imported.publicKey, 'imported', NOW);
      expect((await keys.bestKeyFor('bob@partner.test', 'openpgp', NOW))?.fingerprint).toBe(fromWkd.fingerprint);
      expect((await keys.usability('bob@partner.test', NOW)).find((u) => u.source === 'imported')?.reason).toBe('expired');
      // The domain now serves another key: the old WKD key is superseded.
      const rotated = await key('bob@partner.test');
      await keys.applyWkdAnswer('bob@partner.test', rotated.publicKey, new Date(NOW.getTime() + DAY));
      expect((await keys.bestKeyFor('bob@partner.test', 'openpgp', new Date(NOW.getTime() + DAY)))?.fingerprint).toBe(rotated.fingerprint);
      expect((await keys.listPeerKeys('bob@partner.test')).find((k) => k.fingerprint === fromWkd.fingerprint.toLowerCase())?.state).toBe('superseded');
      // Past its trust a WKD key is not used until WKD is asked again; the harvested one is.
      expect((await keys.bestKeyFor('bob@partner.test', 'openpgp', new Date(NOW.getTime() + 30 * DAY)))?.source).toBe('harvested');
    });

    it('a keyserver key replaces an older keyserver key only when it is newer', async () => {
      const keys = await open();
      const newer = await key('carol@partner.test', { date: new Date(NOW.getTime() - DAY) });
      const older = await key('carol@partner.test', { date: new Date(NOW.getTime() - 100 * DAY) });
      await keys.addPeerKeys(newer.publicKey, 'keyserver', NOW, 'carol@partner.test');
      await keys.addPeerKeys(older.publicKey, 'keyserver', NOW, 'carol@partner.test');
      const states = Object.fromEntries((await keys.listPeerKeys()).map((k) => [k.fingerprint, k.state]));
      expect(states).toEqual({ [newer.fingerprint]: 'active', [older.fingerprint]: 'active' });
      expect((await keys.bestKeyFor('carol@partner.test', 'openpgp', NOW))?.fingerprint).toBe(newer.fingerprint);
      const newest = await key('carol@partner.test', { date: NOW });
      await keys.addPeerKeys(newest.publicKey, 'keyserver', NOW, 'carol@partner.test');
      const after = Object.fromEntries((await keys.listPeerKeys()).map((k) => [k.fingerprint, k.state]));
      expect(after[newer.fingerprint]).toBe('superseded');
      expect(after[older.fingerprint]).toBe('superseded');
    });

    it('refuses a key that does not name the address it is filed under', async () => {
      const keys = await open();
      const mallory = await key('mallory@evil.test');
      await expect(keys.addPeerKeys(mallory.publicKey, 'wkd', NOW, 'bob@partner.test')).rejects.toThrow(/no key in the data names bob@partner.test/);
    });

    it('follows the Autocrypt state machine: a late older message changes nothing, a stale key is not used', async () => {
      const keys = await open();
      const first = await key('dave@partner.test');
      const second = await key('dave@partner.test');
      const at = (days: number) => NOW.getTime() - days * DAY;
      await keys.observeAutocrypt({ from: 'Dave@partner.test', date: at(10), header: { keydata: first.publicKey, preferEncrypt: 'mutual' } }, NOW);
      expect(await keys.bestKeyFor('dave@partner.test', 'openpgp', NOW)).toMatchObject({ source: 'autocrypt', fingerprint: first.fingerprint });
      await keys.observeAutocrypt({ from: 'dave@partner.test', date: at(5), header: { keydata: second.publicKey, preferEncrypt: 'nopreference' } }, NOW);
      // A delayed message written before: ignored (§2.3 step 1).
      await keys.observeAutocrypt({ from: 'dave@partner.test', date: at(8), header: { keydata: first.publicKey, preferEncrypt: 'mutual' } }, NOW);
      expect((await keys.bestKeyFor('dave@partner.test', 'openpgp', NOW))?.fingerprint).toBe(second.fingerprint);
      expect(await keys.autocryptRecommendation('dave@partner.test')).toBe('available');
      // 40 days of mail without the header: the key is stale, Autocrypt discourages it.
      await keys.observeAutocrypt({ from: 'dave@partner.test', date: at(5) + 40 * DAY, header: null }, new Date(at(5) + 40 * DAY));
      expect(await keys.autocryptRecommendation('dave@partner.test')).toBe('discourage');
      expect(await keys.bestKeyFor('dave@partner.test', 'openpgp', NOW)).toBeUndefined();
    });

    it('keeps last_seen to the hour: mail without the header within an hour writes nothing, a header always goes through', async () => {
      const keys = await open();
      const erin = await key('erin@partner.test');
      const start = NOW.getTime() - 10 * DAY;
      const stored = async () => (await keys.autocryptState('erin@partner.test'))?.lastSeen;
      await keys.observeAutocrypt({ from: 'erin@partner.test', date: start, header: null }, NOW);
      expect(await stored()).toBe(start);
      await keys.observeAutocrypt({ from: 'erin@partner.test', date: start + 59 * 60_000, header: null }, NOW);
      expect(await stored(), 'within the hour: not written').toBe(start);
      await keys.observeAutocrypt({ from: 'erin@partner.test', date: start + 61 * 60_000, header: null }, NOW);
      expect(await stored()).toBe(start + 61 * 60_000);
      // Another instance (another node) sees the row as stored, and a header moves it at once.
      const other = new E2eKeyStore(t.store, createVault(randomBytes(32)));
      await other.observeAutocrypt({ from: 'erin@partner.test', date: start + 62 * 60_000, header: { keydata: erin.publicKey, preferEncrypt: 'mutual' } }, NOW);
      expect(await keys.autocryptState('erin@partner.test')).toMatchObject({ lastSeen: start + 62 * 60_000, autocryptTimestamp: start + 62 * 60_000 });
    });

    it('never uses a revoked key, and a revocation sticks', async () => {
      const keys = await open();
      const frank = await key('frank@partner.test');
      await keys.addPeerKeys(frank.publicKey, 'keyserver', NOW, 'frank@partner.test');
      expect((await keys.bestKeyFor('frank@partner.test', 'openpgp', NOW))?.fingerprint).toBe(frank.fingerprint);
      const { publicKey: revoked } = await openpgp.revokeKey({ key: await openpgp.readPrivateKey({ binaryKey: frank.privateKey }), format: 'binary' });
      await keys.addPeerKeys(revoked, 'keyserver', NOW, 'frank@partner.test');
      expect(await keys.bestKeyFor('frank@partner.test', 'openpgp', NOW)).toBeUndefined();
      expect((await keys.listPeerKeys('frank@partner.test'))[0].state).toBe('revoked');
      // The unrevoked copy served again later does not bring it back.
      await keys.addPeerKeys(frank.publicKey, 'keyserver', NOW, 'frank@partner.test');
      expect((await keys.listPeerKeys('frank@partner.test'))[0].state).toBe('revoked');
    });

    it('deletes a key by fingerprint', async () => {
      const keys = await open();
      const erin = await key('erin@corp.test');
      await keys.addUserOpenPgpKey(erin.privateKey, NOW);
      expect(await keys.deleteKey(erin.fingerprint.toUpperCase())).toBe(1);
      expect(await keys.listUserKeys()).toEqual([]);
    });
  });
}
