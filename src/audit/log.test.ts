import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { eventHash, type AuditEvent } from './chain.ts';
import { auditSigner } from './checkpoint.ts';
import { AuditLog } from './log.ts';

const seed = (byte: number) => Buffer.alloc(32, byte);
let now = 1_800_000_000_000;
const clock = { now: () => ++now };

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`audit chain on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    async function logWith(events: number, checkpointEvery = 1000): Promise<AuditLog> {
      current = await openTestStore(dialect);
      const log = new AuditLog({ store: current.store, node: 'node-a', clock, signer: auditSigner(seed(7)), checkpointEvery });
      for (let i = 1; i <= events; i++) await log.record({ actor: 'alice@clinic.test', action: i % 2 ? 'login.ok' : 'pickup.retract', target: `m${i}`, ip: '192.0.2.1', protocol: 'console', detail: { n: i, why: 'test' } });
      return log;
    }
    const db = () => current!.store.db;

    it.skipIf(!available)('an untouched chain verifies, and list filters by action prefix without wildcards', async () => {
      const log = await logWith(6);
      await log.checkpoint();
      expect(await log.verify()).toMatchObject({ ok: true, events: 6, checkpoints: 1, unsigned: 0, broken: null });
      expect((await log.list({ action: 'login' })).map((e) => e.seq)).toEqual([1, 3, 5]);
      expect(await log.list({ action: 'login%' })).toEqual([]);
      expect(await log.list({ action: 'l_gin' })).toEqual([]);
      expect((await log.list({ target: 'm2' }))[0]).toMatchObject({ seq: 2, actor: 'alice@clinic.test', detail: { n: 2, why: 'test' } });
    });

    it.skipIf(!available)('names the first edited event', async () => {
      const log = await logWith(5);
      await db().updateTable('audit_events').set({ actor: 'mallory@clinic.test' }).where('seq', '=', 3).execute();
      await db().updateTable('audit_events').set({ detail: '{"n":99}' }).where('seq', '=', 4).execute();
      expect((await log.verify()).broken).toMatchObject({ seq: 3, sentence: expect.stringMatching(/^event 3 \(login\.ok\) was changed after it was written/) });
    });

    it.skipIf(!available)('names a removed event', async () => {
      const log = await logWith(5);
      await db().deleteFrom('audit_events').where('seq', '=', 2).execute();
      expect((await log.verify()).broken).toMatchObject({ seq: 2, sentence: expect.stringMatching(/^event 2 is missing/) });
    });

    it.skipIf(!available)('names the first of two events swapped in place', async () => {
      const log = await logWith(5);
      const [four, five] = await db().selectFrom('audit_events').selectAll().where('seq', 'in', [4, 5]).orderBy('seq').execute();
      await db().deleteFrom('audit_events').where('seq', 'in', [4, 5]).execute();
      await db().insertInto('audit_events').values([{ ...five, seq: 4 }, { ...four, seq: 5 }]).execute();
      expect((await log.verify()).broken).toMatchObject({ seq: 4 });
    });

    it.skipIf(!available)('a log cut after a signed checkpoint, and a chain rebuilt without the key, are both found', async () => {
      const log = await logWith(6);
      await log.checkpoint();
      // Rebuilt: event 2 edited and every hash after it recomputed (the hash alone is unkeyed).
      const all = await db().selectFrom('audit_events').selectAll().orderBy('seq').execute();
      let prev = all[0].hash;
      for (const row of all.slice(1)) {
        const event: Omit<AuditEvent, 'hash'> = { seq: Number(row.seq), at: Number(row.at), node: row.node, actor: row.seq === 2 ? 'nobody' : row.actor, action: row.action, target: row.target, ip: row.ip, protocol: row.protocol, detail: JSON.parse(row.detail), prevHash: prev };
        const hash = eventHash(event);
        await db().updateTable('audit_events').set({ actor: event.actor, prev_hash: prev, hash }).where('seq', '=', row.seq).execute();
        prev = hash;
      }
      expect((await log.verify()).broken).toMatchObject({ seq: 6, sentence: expect.stringMatching(/not the event the signed checkpoint covers: the chain up to it was rewritten/) });
      // Cut: the last two events deleted; the checkpoint still names 6.
      await db().deleteFrom('audit_events').where('seq', '>', 4).execute();
      expect((await log.verify()).broken).toMatchObject({ seq: 5, sentence: 'events 5 to 6 were removed: a signed checkpoint covers event 6, the log ends at 4' });
    });

    it.skipIf(!available)('a checkpoint signed with another key does not pass', async () => {
      const log = await logWith(3);
      const forger = new AuditLog({ store: current!.store, node: 'evil', clock, signer: auditSigner(seed(9)) });
      await forger.checkpoint();
      expect((await log.verify()).broken).toMatchObject({ seq: 3, sentence: expect.stringMatching(/not signed by this gateway's key/) });
    });

    it.skipIf(!available)('two nodes appending at once write one chain, no fork, no lost event', async () => {
      const log = await logWith(0, 25);
      const other = new AuditLog({ store: current!.store, node: 'node-b', clock, signer: auditSigner(seed(7)), checkpointEvery: 25 });
      await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? log : other).record({ actor: 'system', action: 'message.delivered', target: `q${i}` })));
      const report = await log.verify();
      expect(report).toMatchObject({ ok: true, events: 60, broken: null });
      // Signed at least once: on SQLite the 60 appends of one turn share a transaction (the
      // store's shared commit), so one checkpoint after it may sign them all.
      expect(report.checkpoints).toBeGreaterThanOrEqual(1);
      expect(new Set((await log.list()).map((e) => e.target)).size).toBe(60);
    });
    it.skipIf(!available)('retention removes old events behind a signed anchor; the rest still verifies, a cut without the key does not', async () => {
      const log = await logWith(8);
      const events = await log.list();
      const cutoff = events[4].at; // events 1–4 are older
      expect(await log.prune(cutoff)).toEqual({ removed: 4, anchor: 4 });
      expect((await log.list()).map((e) => e.seq)).toEqual([5, 6, 7, 8]);
      expect(await log.verify()).toMatchObject({ ok: true, events: 4, broken: null });
      await log.record({ actor: 'system', action: 'retention.purge' });
      expect(await log.verify()).toMatchObject({ ok: true, events: 5 });
      // The newest event always stays, so the chain goes on from it.
      expect((await log.prune(Number.MAX_SAFE_INTEGER)).removed).toBe(4);
      expect((await log.list()).map((e) => e.seq)).toEqual([9]);
      expect((await log.verify()).ok).toBe(true);
      // Someone with the database but not the key removes the anchor: the cut is named.
      await db().deleteFrom('audit_checkpoints').execute();
      expect((await log.verify()).broken).toMatchObject({ seq: 1, sentence: 'events 1 to 8 were removed without a signed retention anchor: the log was cut at its start' });
    });

    it.skipIf(!available)('an anchor forged with another key, or an edit right after the anchor, is found', async () => {
      const log = await logWith(6);
      await log.prune((await log.list())[3].at);
      const forger = new AuditLog({ store: current!.store, node: 'evil', clock, signer: auditSigner(seed(9)) });
      await db().updateTable('audit_events').set({ actor: 'mallory' }).where('seq', '=', 4).execute();
      expect((await log.verify()).broken).toMatchObject({ seq: 4, sentence: expect.stringMatching(/^event 4 \(pickup\.retract\) was changed/) });
      await db().deleteFrom('audit_checkpoints').execute();
      await forger.prune(0); // nothing is older than 0: no anchor from the forger either
      const anchor = auditSigner(seed(9)).sign(3, 'f'.repeat(64), 1);
      await db().insertInto('audit_checkpoints').values({ seq: 3, hash: anchor.hash, at: anchor.at, signature: anchor.signature, public_key: anchor.publicKey }).execute();
      expect((await log.verify()).broken).toMatchObject({ seq: 1, sentence: expect.stringMatching(/without a signed retention anchor/) });
    });
  });
}
