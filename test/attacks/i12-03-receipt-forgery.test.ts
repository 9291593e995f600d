import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 12 attack 3: someone with write access to the database but not the master key wants a
 * delivery to look better (or worse) than it was: "it went over TLS", "the server said 250",
 * or the other way round. Before signed receipts, `queue show` printed whatever the receipts
 * row said. Now `sealgate receipt` checks the Ed25519 signature over the signed bytes and
 * holds the row to them: an edited column, edited signed bytes (the key is derived from the
 * master key, so no one re-signs them) and a removed signature are all refused, exit 65.
 */
const PASSWORD = 'correct horse battery staple';

type ReceiptRow = { id: number; reply: string; tls_version: string | null; signed: string | null; signature: string | null };

describe('a receipts row edited in the database', () => {
  // The recorder offers no STARTTLS: the true receipt says "no TLS".
  const rig = gatewayWithSmarthost({ prefix: 'sg-i12-03-', users: ['alice@corp.test'], password: PASSWORD });
  const dbFile = () => path.join(rig.gateway.dir, 'data', 'sealgate.db');
  const edit = (id: string, change: (db: Database.Database, row: ReceiptRow) => void) => {
    const db = new Database(dbFile());
    try {
      const row = db.prepare("SELECT id, reply, tls_version, signed, signature FROM receipts WHERE message_id = ? AND outcome = 'delivered'").get(id) as ReceiptRow;
      change(db, row);
    } finally {
      db.close();
    }
  };
  const receipt = (id: string) => rig.gateway.cli('receipt', id);

  it('is reported INVALID by sealgate receipt: a changed reply or TLS version, changed signed bytes, a removed signature', async () => {
    const sent = await submitAs(() => rig.gateway.ports.submission, PASSWORD, 'alice@corp.test')('bob@corp.test', ['--header', 'Subject: disputed delivery']);
    expect(sent.code, sent.stdout).toBe(0);
    const id = queuedId(sent.stdout);
    await until(async () => (await receipt(id)).code === 0, 20_000, 'a signed receipt');
    // The control: untouched, it verifies and says what happened.
    const honest = await receipt(id);
    expect(honest.stdout).toContain('signature: valid');
    expect(honest.stdout).toMatch(/link {7}no TLS/);
    expect(honest.stdout).toContain('reply      250 2.0.0 recorded');

    // The row alone: the TLS claim and the reply the console and queue show print.
    edit(id, (db, row) => db.prepare("UPDATE receipts SET tls_version = 'TLSv1.3', cipher = 'TLS_AES_256_GCM_SHA384', reply = '250 2.0.0 Ok: queued as FORGED' WHERE id = ?").run(row.id));
    const rowEdited = await receipt(id);
    expect(rowEdited.code).toBe(65);
    expect(rowEdited.stdout).toMatch(/INVALID: the stored row was changed after signing: TLS version, cipher, reply differ/);
    expect((await rig.gateway.cli('trace', '--to', 'bob@corp.test')).code).toBe(65);

    // The signed bytes too, consistently with the row: the signature no longer matches.
    edit(id, (db, row) => {
      const forged = row.signed!.replace('"tlsVersion":null', '"tlsVersion":"TLSv1.3"').replace('"cipher":null', '"cipher":"TLS_AES_256_GCM_SHA384"').replace('250 2.0.0 recorded', '250 2.0.0 Ok: queued as FORGED');
      expect(forged).not.toBe(row.signed);
      db.prepare('UPDATE receipts SET signed = ? WHERE id = ?').run(forged, row.id);
    });
    const bytesEdited = await receipt(id);
    expect(bytesEdited.code).toBe(65);
    expect(bytesEdited.stdout).toContain('INVALID: the signature does not match the signed bytes');

    // No proof at all is not a proof.
    edit(id, (db, row) => db.prepare('UPDATE receipts SET signed = NULL, signature = NULL WHERE id = ?').run(row.id));
    const unsigned = await receipt(id);
    expect(unsigned.code).toBe(65);
    expect(unsigned.stdout).toContain('NOT SIGNED');
  });
});
