import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { MailError, type Envelope } from '../kernel/index.ts';
import { openBlobStore, openDatabaseBlobStore, openKeyFiles } from '../store/index.ts';
import { createVault, VaultIntegrityError } from '../vault/index.ts';
import { Queue } from './queue.ts';
import { silentLogger as silent } from '../../test/helpers/silent-logger.ts';
import { filesUnder } from '../../test/helpers/ports.ts';


function envelope(recipients: string[]): Envelope {
  return { mailFrom: 'alice@sender.test', recipients: recipients.map((address) => ({ address })), requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' };
}

async function text(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts).toString();
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`queue on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    let now = 1_700_000_000_000;
    const clock = { now: () => now };
    // PostgreSQL leases run on the database's clock: there time must really pass.
    const L = dialect === 'postgres' ? 300 : 60_000;
    const pass = async (ms: number) => {
      now += ms;
      if (dialect === 'postgres') await new Promise((r) => setTimeout(r, ms));
    };

    async function makeQueue() {
      current = await openTestStore(dialect);
      const blobs = openBlobStore(path.join(current.dir, 'blobs'));
      return { queue: new Queue({ store: current.store, blobs, vault: createVault(randomBytes(32)), clock, logger: silent }), blobs };
    }

    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    it.skipIf(!available || dialect !== 'sqlite')('on SQLite a lease and the settlements of one turn are one commit (one fsync)', async () => {
      // Counts what reaches the disk: COMMITs and writes outside a transaction (each its own commit).
      let commits = 0;
      const prepare = BetterSqlite3.prototype.prepare;
      BetterSqlite3.prototype.prepare = function (this: BetterSqlite3.Database, source: string) {
        const statement = prepare.call(this, source);
        const database = this;
        for (const name of ['run', 'all', 'get'] as const) {
          const original = statement[name].bind(statement) as (...args: unknown[]) => unknown;
          (statement as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
            if (/^\s*commit/i.test(source) || (!database.inTransaction && !statement.readonly && !/^\s*begin/i.test(source))) commits++;
            return original(...args);
          };
        }
        return statement;
      } as typeof prepare;
      try {
        current = await openTestStore(dialect);
        // Body keys in files, as the gateway keeps them on SQLite (a key row would be a commit of its own).
        const queue = new Queue({ store: current.store, blobs: openBlobStore(path.join(current.dir, 'blobs')), keys: openKeyFiles(path.join(current.dir, 'keys')), vault: createVault(randomBytes(32)), clock, logger: silent });
        await Promise.all([queue.enqueue(envelope(['a@x.test']), Readable.from([Buffer.from('one')])), queue.enqueue(envelope(['b@x.test']), Readable.from([Buffer.from('two')]))]);
        const [groups] = await Promise.all([queue.lease('node', 10, L), queue.enqueue(envelope(['c@x.test']), Readable.from([Buffer.from('three')]))]);
        expect(groups.map((g) => g.recipients[0].address).sort()).toEqual(['a@x.test', 'b@x.test']);
        commits = 0;
        const [next, ...done] = await Promise.all([
          queue.lease('node', 10, L),
          ...groups.map((g) => queue.settle(g.messageId, g.lease, [{ recipientId: g.recipients[0].id, state: 'delivered', reply: '250 ok' }])),
        ]);
        expect(done).toEqual([true, true]);
        expect(next.map((g) => g.recipients[0].address)).toEqual(['c@x.test']);
        expect(commits).toBe(1);
      } finally {
        BetterSqlite3.prototype.prepare = prepare;
      }
    });

    it.skipIf(!available)('stores the body encrypted and hands it back', async () => {
      const { queue, blobs } = await makeQueue();
      const body = 'Subject: plans\r\n\r\nThe secret launch code is 31337.\r\n';
      const { id } = await queue.enqueue(envelope(['bob@a.test']), Readable.from([Buffer.from(body)]));
      expect(await text(await queue.openBody(id))).toBe(body);
      // Database, WAL and blob files alike: nothing of the body in the clear.
      for (const file of filesUnder(current!.dir)) expect(readFileSync(file).includes('31337'), file).toBe(false);
      void blobs;
    });

    it.skipIf(!available)('shreds the body key when the message is done: a saved copy of the body no longer opens', async () => {
      const { queue } = await makeQueue();
      const { id } = await queue.enqueue(envelope(['bob@a.test']), Readable.from([Buffer.from('Subject: x\r\n\r\nsecret\r\n')]));
      const [group] = await queue.lease('node', 10, 60_000);
      const saved = group.storedBody!;
      expect(await text(await queue.openBody(id, saved))).toContain('secret');
      await queue.settle(id, group.lease, [{ recipientId: group.recipients[0].id, state: 'delivered', reply: '250 ok' }]);
      await expect(text(await queue.openBody(id, saved))).rejects.toBeInstanceOf(VaultIntegrityError);
    });

    it.skipIf(!available)('keeps the sender\'s pickup secret in the row under the body key, handing it out sealed by the master key', async () => {
      current = await openTestStore(dialect);
      const vault = createVault(randomBytes(32));
      const queue = new Queue({ store: current.store, blobs: openBlobStore(path.join(current.dir, 'blobs')), vault, clock, logger: silent });
      const sealedSecret = vault.seal(Buffer.from('lila 7319')).toString('base64');
      const { id } = await queue.enqueue({ ...envelope(['bob@a.test']), pickupControl: { verification: 'passphrase', sealedSecret } }, Readable.from([Buffer.from('x\r\n')]));
      const row = await current.store.db.selectFrom('messages').select('envelope').where('id', '=', id).executeTakeFirstOrThrow();
      const stored = (JSON.parse(row.envelope) as Envelope).pickupControl!.sealedSecret!;
      expect(stored.startsWith('body:')).toBe(true);
      expect(() => vault.open(Buffer.from(stored.slice(5), 'base64'))).toThrow();
      const [group] = await queue.lease('node', 10, 60_000);
      expect(vault.open(Buffer.from(group.envelope.pickupControl!.sealedSecret!, 'base64')).toString()).toBe('lila 7319');
    });

    it.skipIf(!available)('spills a large body to an encrypted file and deletes it when done', async () => {
      const { queue, blobs } = await makeQueue();
      const marker = 'TOPSECRET-MARKER-';
      const big = Buffer.from(`${marker}${'z'.repeat(1_000_000)}`);
      const { id } = await queue.enqueue(envelope(['b@a.test']), Readable.from([big]));
      const files = filesUnder(blobs.dir).filter((f) => f.endsWith(id));
      expect(files).toHaveLength(1);
      expect(readFileSync(files[0]).includes(marker)).toBe(false);
      expect((await text(await queue.openBody(id))).length).toBe(big.length);
      const [group] = await queue.lease('n', 10, 60_000);
      expect(await queue.settle(id, group.lease, [{ recipientId: group.recipients[0].id, state: 'delivered', reply: '250 ok' }])).toBe(true);
      await queue.reap(id);
      expect(filesUnder(blobs.dir).filter((f) => f.endsWith(id))).toEqual([]);
    });

    it.skipIf(!available)('leases due recipients grouped by domain, once', async () => {
      const { queue } = await makeQueue();
      const { id } = await queue.enqueue(envelope(['b1@a.test', 'b2@A.test', 'c@b.test']), Readable.from([Buffer.from('x\r\n')]));
      const groups = await queue.lease('node-1', 10, L);
      expect(groups.map((g) => [g.domain, g.recipients.length]).sort()).toEqual([['a.test', 2], ['b.test', 1]]);
      expect(groups[0].messageId).toBe(id);
      expect(await queue.lease('node-2', 10, L)).toEqual([]);
      await pass(L + 50); // lease expired: another node may take it
      expect((await queue.lease('node-2', 10, L)).length).toBe(2);
    });

    it.skipIf(!available)('settles, retries later, and reports when a message is done', async () => {
      const { queue } = await makeQueue();
      const { id } = await queue.enqueue(envelope(['b1@a.test', 'b2@a.test']), Readable.from([Buffer.from('x\r\n')]));
      const [group] = await queue.lease('n', 10, 60_000);
      const [r1, r2] = group.recipients;
      const receipt = { at: now, recipient: r1.address, mxHost: 'mx.a.test', ip: '127.0.0.10', port: 25, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSubject: 'CN=mx.a.test', certVerified: true, reply: '250 2.0.0 Ok: queued as 1234', outcome: 'delivered' as const, route: 'end-to-end:openpgp' as const, routeReason: 'encrypted with the recipient\'s OpenPGP key' };
      expect(await queue.settle(id, group.lease, [
        { recipientId: r1.id, state: 'delivered', reply: receipt.reply, receipt },
        { recipientId: r2.id, state: 'queued', reply: '451 4.3.0 try later', nextAttemptAt: now + L },
      ])).toBe(false);
      expect(await queue.lease('n', 10, 60_000)).toEqual([]);
      await pass(L + 50);
      const [again] = await queue.lease('n', 10, 60_000);
      expect(again.recipients.map((r) => [r.id, r.attempts])).toEqual([[r2.id, 1]]);
      expect(await queue.settle(id, again.lease, [{ recipientId: r2.id, state: 'failed', reply: '550 5.1.1 no such user' }])).toBe(true);
      const detail = await queue.show(id);
      expect(detail?.receipts[0]).toMatchObject({ reply: '250 2.0.0 Ok: queued as 1234', tlsVersion: 'TLSv1.3', certVerified: true, route: 'end-to-end:openpgp', routeReason: "encrypted with the recipient's OpenPGP key" });
      expect(detail?.recipients.map((r) => r.state)).toEqual(['delivered', 'failed']);
      await queue.reap(id);
      expect(await queue.reapFinished()).toBe(0);
    });

    it.skipIf(!available)('commits nothing when the body stream fails (the 250 is never sent)', async () => {
      const { queue, blobs } = await makeQueue();
      const body = new Readable({ read() {} });
      const pending = queue.enqueue(envelope(['b@a.test']), body);
      body.push(Buffer.from('partial'));
      setTimeout(() => body.destroy(new MailError(554, '5.6.11', 'Bare LF', 'smtp')), 10);
      await expect(pending).rejects.toMatchObject({ code: 554, enhanced: '5.6.11' });
      expect(await queue.list()).toEqual([]);
      expect(filesUnder(blobs.dir).filter((f) => !f.includes(`${path.sep}tmp${path.sep}`) && statSync(f).size > 0)).toEqual([]);
    });

    it.skipIf(!available)('keeps large bodies in the database when the store says so (clusters)', async () => {
      current = await openTestStore(dialect);
      const blobs = openDatabaseBlobStore(current.store);
      const queue = new Queue({ store: current.store, blobs, vault: createVault(randomBytes(32)), clock, logger: silent });
      const marker = 'CLUSTER-SECRET-';
      const big = Buffer.from(`${marker}${'q'.repeat(1_500_000)}`);
      const { id } = await queue.enqueue(envelope(['b@a.test']), Readable.from([big]));
      const pieces = await current.store.db.selectFrom('message_chunks').select('data').where('message_id', '=', id).execute();
      expect(pieces.length).toBeGreaterThanOrEqual(1);
      expect(pieces.some((p) => Buffer.from(p.data).includes(marker))).toBe(false);
      expect((await text(await queue.openBody(id))).length).toBe(big.length);
      const [group] = await queue.lease('n', 10, 60_000);
      expect(await queue.settle(id, group.lease, [{ recipientId: group.recipients[0].id, state: 'delivered', reply: '250 ok' }])).toBe(true);
      expect(await current.store.db.selectFrom('message_chunks').select('seq').where('message_id', '=', id).execute()).toEqual([]);
    });

    it.skipIf(!available)('refuses to hand out a torn body', async () => {
      const { queue, blobs } = await makeQueue();
      const { id } = await queue.enqueue(envelope(['b@a.test']), Readable.from([randomBytes(400_000)]));
      const file = filesUnder(blobs.dir).find((f) => f.endsWith(id))!;
      const { truncateSync } = await import('node:fs');
      truncateSync(file, statSync(file).size - 100);
      await expect(text(await queue.openBody(id))).rejects.toBeInstanceOf(VaultIntegrityError);
    });

    it.skipIf(!available)('drops a settle whose lease another node took over (no state reverts)', async () => {
      const { queue } = await makeQueue();
      const { id } = await queue.enqueue(envelope(['b@a.test']), Readable.from([Buffer.from('x')]));
      const [stale] = await queue.lease('node-a', 10, L);
      await pass(L + 50); // node-a paused past its lease
      expect(await queue.holding(stale.lease, [stale.recipients[0].id])).toEqual(new Set());
      const [fresh] = await queue.lease('node-b', 10, L);
      expect(fresh.lease.token).not.toBe(stale.lease.token);
      expect(await queue.settle(id, fresh.lease, [{ recipientId: fresh.recipients[0].id, state: 'delivered', reply: '250 ok' }])).toBe(true);
      expect(await queue.settle(id, stale.lease, [{ recipientId: stale.recipients[0].id, state: 'queued', reply: '451 late', nextAttemptAt: now }])).toBe(false);
      expect((await queue.show(id))?.recipients.map((r) => [r.state, r.attempts])).toEqual([['delivered', 1]]);
      expect(await queue.renew([stale.lease.token], L)).toEqual(new Set());
    });

    it.skipIf(!available)('renews, gives back, and claims the delay notice once', async () => {
      const { queue } = await makeQueue();
      const { id } = await queue.enqueue(envelope(['b@a.test', 'c@b.test']), Readable.from([Buffer.from('x')]));
      const groups = await queue.lease('node-a', 10, L);
      const ids = groups.flatMap((g) => g.recipients.map((r) => r.id));
      await pass((L * 2) / 3);
      expect(await queue.renew([groups[0].lease.token], L)).toEqual(new Set(ids));
      await pass((L * 2) / 3); // past the first deadline, within the renewed one
      expect(await queue.lease('node-b', 10, L)).toEqual([]);
      await queue.release(groups[0].lease, ids);
      expect((await queue.lease('node-b', 10, L, { skipDomains: ['a.test'] })).map((g) => g.domain)).toEqual(['b.test']);
      await queue.release(groups[0].lease, ids);
      await pass(L + 50);
      // Groups picked to fit the caller's free slots: one of a.test, none of b.test.
      const { id: second } = await queue.enqueue(envelope(['d@a.test']), Readable.from([Buffer.from('y')]));
      const fitted = await queue.lease('node-c', 10, L, { slotsFor: (domain) => (domain === 'a.test' ? 1 : 0) });
      expect(fitted.map((g) => [g.domain, g.recipients.length])).toEqual([['a.test', 1]]);
      expect([id, second]).toContain(fitted[0].messageId);
      const claims = await Promise.all([queue.claimDelayNotice(id), queue.claimDelayNotice(id), queue.claimDelayNotice(id)]);
      expect(claims.filter(Boolean)).toHaveLength(1);
    });

    it.skipIf(!available)('releases its own leases after a restart', async () => {
      const { queue } = await makeQueue();
      await queue.enqueue(envelope(['b@a.test']), Readable.from([Buffer.from('x')]));
      expect((await queue.lease('node-a', 10, 600_000)).length).toBe(1);
      expect(await queue.releaseLeases('node-a')).toBe(1);
      expect((await queue.lease('node-a', 10, 600_000)).length).toBe(1);
    });
  });
}
