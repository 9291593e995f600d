import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { silentLogger as silent } from '../../test/helpers/silent-logger.ts';
import { receiptSigner } from '../audit/index.ts';
import type { DeliveryReceipt } from '../kernel/index.ts';
import { openBlobStore } from '../store/index.ts';
import { createVault } from '../vault/index.ts';
import { Queue } from './queue.ts';
import { checkReceipt } from './receipts.ts';

const signer = receiptSigner(Buffer.alloc(32, 9));

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`signed receipts on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    const now = 1_780_000_000_000;
    const clock = { now: () => now };

    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    /** Two recipients: one delivered over TLS, one deferred; the message from alice. */
    async function settled() {
      current = await openTestStore(dialect);
      const queue = new Queue({ store: current.store, blobs: openBlobStore(path.join(current.dir, 'blobs')), vault: createVault(randomBytes(32)), clock, logger: silent, receiptSigner: signer });
      const { id } = await queue.enqueue({ mailFrom: 'alice@sender.test', recipients: [{ address: 'bob@a.test' }, { address: 'carol@a.test' }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' }, Readable.from([Buffer.from('x\r\n')]));
      const [group] = await queue.lease('n', 10, 60_000);
      const [bob, carol] = group.recipients;
      const receipt: DeliveryReceipt = {
        at: now, recipient: bob.address, mxHost: 'mx.a.test', ip: '127.0.0.10', port: 25, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSubject: 'CN=mx.a.test',
        certFingerprint: 'ab'.repeat(32), certVerified: true, messageSha256: 'cd'.repeat(32), reply: '250 2.0.0 Ok: queued as 1234', outcome: 'delivered', route: 'link', routeReason: 'no rule asks for more', mailFrom: 'alice@sender.test',
      };
      const deferred: DeliveryReceipt = { ...receipt, recipient: carol.address, reply: '451 4.3.0 later', outcome: 'deferred' };
      await queue.settle(id, group.lease, [
        { recipientId: bob.id, state: 'delivered', reply: receipt.reply, receipt },
        { recipientId: carol.id, state: 'queued', reply: deferred.reply, nextAttemptAt: now + 60_000, receipt: deferred },
      ]);
      return { queue, id, store: current.store };
    }

    it.skipIf(!available)('signs a final outcome in the settle insert and leaves a deferral unsigned', async () => {
      const { queue, id } = await settled();
      const [delivered, deferred] = await queue.receipts(id);
      expect(delivered.kind).toBe('delivered');
      expect(checkReceipt(delivered, signer.publicKeyPem)).toMatchObject({ status: 'valid', document: { messageId: id, mailFrom: 'alice@sender.test', recipient: 'bob@a.test', tlsVersion: 'TLSv1.3', messageSha256: 'cd'.repeat(32), reply: '250 2.0.0 Ok: queued as 1234' } });
      expect(deferred.kind).toBeNull();
      expect(deferred.signed).toBeNull();
    });

    it.skipIf(!available)('reports a row edited beside its signature, and edited signed bytes, as invalid', async () => {
      const { queue, id, store } = await settled();
      await store.db.updateTable('receipts').set({ tls_version: 'TLSv1.2' }).where('message_id', '=', id).where('outcome', '=', 'delivered').execute();
      expect(checkReceipt((await queue.receipts(id))[0], signer.publicKeyPem)).toMatchObject({ status: 'invalid', reason: expect.stringContaining('TLS version') });
      const [row] = await store.db.selectFrom('receipts').select(['id', 'signed']).where('message_id', '=', id).where('outcome', '=', 'delivered').execute();
      await store.db.updateTable('receipts').set({ tls_version: 'TLSv1.3', signed: row.signed!.replace('TLSv1.3', 'TLSv1.2') }).where('id', '=', row.id).execute();
      expect(checkReceipt((await queue.receipts(id))[0], signer.publicKeyPem)).toMatchObject({ status: 'invalid', reason: expect.stringContaining('signature does not match') });
      await store.db.updateTable('receipts').set({ signed: null, signature: null }).where('id', '=', row.id).execute();
      expect(checkReceipt((await queue.receipts(id))[0], signer.publicKeyPem).status).toBe('unsigned');
    });

    it.skipIf(!available)('traces final outcomes by sender, recipient, message and time', async () => {
      const { queue, id } = await settled();
      expect((await queue.trace({ to: 'BOB@a.test' })).map((r) => r.messageId)).toEqual([id]);
      expect(await queue.trace({ to: 'carol@a.test' })).toEqual([]); // deferred only: no final outcome yet
      expect((await queue.trace({ from: 'alice@sender.test', since: now, until: now })).length).toBe(1);
      expect(await queue.trace({ from: 'mallory@sender.test' })).toEqual([]);
      expect(await queue.trace({ since: now + 1 })).toEqual([]);
      expect((await queue.trace({ messageId: id })).length).toBe(1);
    });

    it.skipIf(!available)('still finds and verifies a receipt once retention removed its message, and names an edited recipient', async () => {
      const { queue, id, store } = await settled();
      await store.db.deleteFrom('recipients').where('message_id', '=', id).execute();
      await store.db.deleteFrom('messages').where('id', '=', id).execute();
      const [found] = await queue.trace({ from: 'alice@sender.test', to: 'bob@a.test' });
      expect(checkReceipt(found, signer.publicKeyPem).status).toBe('valid');
      await store.db.updateTable('receipts').set({ recipient: 'mallory@a.test' }).where('message_id', '=', id).execute();
      expect(checkReceipt((await queue.receipts(id))[0], signer.publicKeyPem)).toMatchObject({ status: 'invalid', reason: expect.stringContaining('recipient') });
    });
  });
}
