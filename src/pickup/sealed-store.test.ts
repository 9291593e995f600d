import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { createVault } from '../vault/index.ts';
import { unwrapDataKey } from './keys.ts';
import { PickupStore } from './sealed-store.ts';
import { pickupFailure } from '../../test/helpers/pickup-failure.ts';
import { filesUnder } from '../../test/helpers/ports.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const MIB = 1024 * 1024;

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`pickup store on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());
    const masterKey = randomBytes(32);

    async function setup(): Promise<PickupStore> {
      current = await openTestStore(dialect);
      return new PickupStore({ store: current.store, masterKey, dataDir: current.dir, gate: { ipAttempts: 1000 } });
    }

    it.skipIf(!available)('sweeps only the shares a crash left behind for withdrawn messages', async () => {
      const pickup = await setup();
      const kept = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'kept', verification: 'link', parts: [] });
      const gone = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'gone', verification: 'link', parts: [] });
      const shares = path.join(current!.dir, 'pickup-shares');
      const leftover = readFileSync(path.join(shares, gone.id));
      await pickup.retract(gone.id);
      writeFileSync(path.join(shares, gone.id), leftover); // as if the process died before the delete
      writeFileSync(path.join(shares, 'AAAAAAAAAAAAAAAAAAAAAA'), leftover); // a create still in flight: no row yet
      expect(await pickup.sweepShares()).toBe(1);
      expect(readdirSync(shares).sort()).toEqual(['AAAAAAAAAAAAAAAAAAAAAA', kept.id].sort());
      expect((await pickup.open(kept.id, { password: kept.messagePassword })).subject).toBe('kept');
    });

    it.skipIf(!available)('round-trips a message with text, HTML and an attachment', async () => {
      const pickup = await setup();
      const { id, messagePassword } = await pickup.create({
        sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 'Contract draft', verification: 'link', readNotice: true,
        parts: [
          { kind: 'text', contentType: 'text/plain; charset=utf-8', content: 'Hello Bob' },
          { kind: 'html', contentType: 'text/html; charset=utf-8', content: '<p>Hello Bob</p>' },
          { kind: 'attachment', contentType: 'application/pdf', filename: 'contract.pdf', content: Buffer.from('%PDF-1.7 contract') },
        ],
      });
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const opened = await pickup.open(id, { password: messagePassword }, { ip: '127.0.0.1' });
      expect(opened.subject).toBe('Contract draft');
      expect(opened.firstOpen).toBe(true);
      expect(opened.readNotice).toBe(true);
      expect(opened.parts.map((p) => [p.idx, p.kind, p.filename, p.contentType, p.size])).toEqual([
        [0, 'text', null, 'text/plain; charset=utf-8', 9],
        [1, 'html', null, 'text/html; charset=utf-8', 16],
        [2, 'attachment', 'contract.pdf', 'application/pdf', 17],
      ]);
      expect((await readAll(opened.openPart(0))).toString()).toBe('Hello Bob');
      expect((await readAll(opened.openPart(2))).toString()).toBe('%PDF-1.7 contract');
      // Typed by hand from the notice: lower case, spaces for dashes.
      const again = await pickup.open(id, { password: messagePassword.toLowerCase().replace(/-/g, ' ') });
      expect(again.firstOpen).toBe(false);
      expect((await pickup.events(id)).map((e) => e.kind)).toEqual(['created', 'opened', 'opened']);
      expect((await pickup.listBySender('alice@example.test')).map((m) => [m.id, m.state, m.openedAt !== null])).toEqual([[id, 'active', true]]);
    });

    it.skipIf(!available)('refuses a wrong password and counts it; unknown ids are not found', async () => {
      const pickup = await setup();
      const { id } = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 's', verification: 'link', parts: [] });
      expect(await pickupFailure(pickup.open(id, { password: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA' }, { ip: '127.0.0.9' }))).toBe('wrong-credentials');
      expect(await pickupFailure(pickup.open(id, { password: 'garbage' }))).toBe('wrong-credentials');
      expect(await pickupFailure(pickup.open('x'.repeat(22), { password: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA' }))).toBe('not-found');
      const events = await pickup.events(id);
      expect(events.filter((e) => e.kind === 'failed-attempt').map((e) => e.ip)).toEqual(['127.0.0.9', 'unknown']);
    });

    it.skipIf(!available)('needs the passphrase or answer as well as the password', async () => {
      const pickup = await setup();
      const byPassphrase = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'p', verification: 'passphrase', passphraseOrAnswer: 'Tulip Orbit 42', parts: [] });
      expect(await pickupFailure(pickup.open(byPassphrase.id, { password: byPassphrase.messagePassword }))).toBe('wrong-credentials');
      expect(await pickupFailure(pickup.open(byPassphrase.id, { password: byPassphrase.messagePassword, secret: 'tulip orbit 42' }))).toBe('wrong-credentials');
      expect((await pickup.open(byPassphrase.id, { password: byPassphrase.messagePassword, secret: 'Tulip Orbit 42' })).subject).toBe('p');

      const byQuestion = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'q', verification: 'question', question: 'Our first office?', passphraseOrAnswer: 'Old Harbour  Road', parts: [] });
      expect(await pickupFailure(pickup.open(byQuestion.id, { password: byQuestion.messagePassword, secret: 'new harbour road' }))).toBe('wrong-credentials');
      expect((await pickup.open(byQuestion.id, { password: byQuestion.messagePassword, secret: ' old harbour road' })).subject).toBe('q');
      await expect(pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'q', verification: 'question', passphraseOrAnswer: 'x', parts: [] })).rejects.toThrow(/needs the question/);
    });

    it.skipIf(!available)('retraction destroys the server share: withdrawn even with the right password, and an old copy of the wrap is useless', async () => {
      const pickup = await setup();
      const big = randomBytes(400 * 1024); // external: a file on SQLite, pickup_chunks on PostgreSQL
      const { id, messagePassword } = await pickup.create({
        sender: 'a@x.test', recipient: 'b@y.test', subject: 'to retract', verification: 'link',
        parts: [{ kind: 'text', contentType: 'text/plain', content: 'small' }, { kind: 'attachment', contentType: 'application/octet-stream', filename: 'big.bin', content: big }],
      });
      const db = current!.store.db;
      const before = await db.selectFrom('pickup_messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      // The share lives outside the database: a copy of the database never holds it.
      expect(before.server_share_wrapped).toBeNull();
      const shareFile = path.join(current!.dir, 'pickup-shares', id);
      expect(existsSync(shareFile)).toBe(true);
      expect(await pickup.retract(id, '127.0.0.2')).toBe(true);
      expect(await pickup.retract(id)).toBe(false);
      expect(await pickupFailure(pickup.open(id, { password: messagePassword }))).toBe('withdrawn');
      expect(existsSync(shareFile)).toBe(false);

      const after = await db.selectFrom('pickup_messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      expect(after.state).toBe('retracted');
      expect((await db.selectFrom('pickup_parts').select('data').where('message_id', '=', id).execute()).every((p) => p.data === null)).toBe(true);
      expect(await db.selectFrom('pickup_chunks').select('seq').where('message_id', '=', id).execute()).toEqual([]);
      expect(existsSync(path.join(current!.dir, 'pickup', id))).toBe(false);
      // The row copied before retraction, with the right password, still needs the share.
      for (const serverShare of [randomBytes(32), Buffer.alloc(32)]) {
        expect(() => unwrapDataKey(Buffer.from(before.wrapped_dek), { serverShare, messagePassword, messageId: id })).toThrow(/not right/);
      }
      // Even put back as it was, the row cannot be opened: the share is gone for good.
      await db.updateTable('pickup_messages').set({ state: before.state }).where('id', '=', id).execute();
      expect(await pickupFailure(pickup.open(id, { password: messagePassword }))).toBe('withdrawn');
      await db.updateTable('pickup_messages').set({ state: 'retracted' }).where('id', '=', id).execute();
      expect((await pickup.events(id)).map((e) => [e.kind, e.ip])).toEqual([['created', null], ['retracted', '127.0.0.2']]);
    });

    it.skipIf(!available)('expires on schedule or when opened late; expiry can change', async () => {
      let now = 1_000_000;
      current = await openTestStore(dialect);
      const pickup = new PickupStore({ store: current.store, masterKey, dataDir: current.dir, clock: { now: () => now } });
      const a = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'a', verification: 'link', parts: [], expiresInDays: 1 });
      const b = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'b', verification: 'link', parts: [], expiresInDays: 1 });
      await pickup.changeExpiry(b.id, now + 3 * 86_400_000);
      now += 2 * 86_400_000;
      expect(await pickupFailure(pickup.open(a.id, { password: a.messagePassword }))).toBe('withdrawn');
      expect(await pickup.expire()).toBe(0);
      expect((await pickup.open(b.id, { password: b.messagePassword })).subject).toBe('b');
      expect(await pickup.expire(now + 2 * 86_400_000)).toBe(1);
      expect(await pickupFailure(pickup.open(b.id, { password: b.messagePassword }))).toBe('withdrawn');
      expect((await pickup.events(b.id)).map((e) => e.kind)).toEqual(['created', 'expiry-changed', 'opened', 'expired']);
      // Both expiries, the late one found by an open and the sweep's, are handed to the audit once.
      expect(pickup.takeExpired()).toEqual([a.id, b.id]);
      expect(pickup.takeExpired()).toEqual([]);
      await expect(pickup.changeExpiry(b.id, now + 86_400_000)).rejects.toThrow(/withdrawn/);
    });

    it.skipIf(!available)('streams a 20 MB attachment in and out without holding it', async () => {
      const pickup = await setup();
      const inHash = createHash('sha256');
      let produced = 0;
      const source = Readable.from((function* generate() {
        for (let i = 0; i < 20; i++) {
          const piece = randomBytes(MIB);
          inHash.update(piece);
          produced += piece.length;
          yield piece;
        }
      })());
      const rssBefore = process.memoryUsage().rss;
      const { id, messagePassword } = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'big', verification: 'link', parts: [{ kind: 'attachment', contentType: 'application/octet-stream', filename: 'big.bin', content: source }] });
      const opened = await pickup.open(id, { password: messagePassword });
      expect(opened.parts[0].size).toBe(20 * MIB);
      const outHash = createHash('sha256');
      let chunks = 0;
      let largest = 0;
      for await (const chunk of opened.openPart(0)) {
        outHash.update(chunk as Buffer);
        chunks++;
        largest = Math.max(largest, (chunk as Buffer).length);
      }
      expect(produced).toBe(20 * MIB);
      expect(outHash.digest('hex')).toBe(inHash.digest('hex'));
      // Pieces of 64 KiB (a file) or 1 MB (pickup_chunks rows), never the whole part.
      expect(chunks).toBeGreaterThanOrEqual(19);
      expect(largest).toBeLessThanOrEqual(2 * MIB);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(150 * MIB);
      const row = await current!.store.db.selectFrom('pickup_parts').select(['data', 'external']).where('message_id', '=', id).executeTakeFirstOrThrow();
      expect([row.data, row.external]).toEqual([null, 1]);
    });

    it.skipIf(!available)('leaves no plaintext in the database or the part files', async () => {
      const pickup = await setup();
      const marker = 'PLAINTEXT-MARKER-7f3a';
      const bigText = Buffer.from(`${marker}\n`.repeat(40_000)); // ~880 kB: goes to a file
      const { id, messagePassword } = await pickup.create({
        sender: 'a@x.test', recipient: 'b@y.test', subject: `Subject ${marker}`, verification: 'passphrase', passphraseOrAnswer: `pass ${marker}`,
        parts: [
          { kind: 'text', contentType: 'text/plain', content: `Body ${marker}` },
          { kind: 'attachment', contentType: 'text/plain', filename: `${marker}.txt`, content: bigText },
        ],
      });
      const opened = await pickup.open(id, { password: messagePassword, secret: `pass ${marker}` });
      expect((await readAll(opened.openPart(1))).equals(bigText)).toBe(true);
      const files = filesUnder(current!.dir);
      for (const file of files) expect(readFileSync(file).includes(marker), file).toBe(false);
      if (dialect === 'sqlite') {
        expect(files.some((f) => f.endsWith(path.join('pickup', id, '1')))).toBe(true);
        // The scan does see what is stored in clear (database or WAL file).
        expect(files.some((f) => readFileSync(f).includes('b@y.test'))).toBe(true);
      } else {
        const db = current!.store.db;
        const rows = [
          ...(await db.selectFrom('pickup_messages').selectAll().execute()),
          ...(await db.selectFrom('pickup_parts').selectAll().execute()),
          ...(await db.selectFrom('pickup_chunks').selectAll().execute()),
          ...(await db.selectFrom('pickup_events').selectAll().execute()),
        ];
        expect(rows.length).toBeGreaterThan(3);
        for (const row of rows) {
          for (const value of Object.values(row)) expect((Buffer.isBuffer(value) ? value.toString('latin1') : String(value)).includes(marker)).toBe(false);
        }
      }
    });
  });
}
