import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { silentLogger } from '../../test/helpers/silent-logger.ts';
import { AuditBatcher } from './batcher.ts';
import { auditSigner } from './checkpoint.ts';
import { AuditLog } from './log.ts';

const clock = { now: () => Date.now() };

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`audit group commit on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    it.skipIf(!available)('writes a burst in few statements, keeps every event in order, and two nodes at once keep one chain', async () => {
      current = await openTestStore(dialect);
      const signer = auditSigner(Buffer.alloc(32, 3));
      const logA = new AuditLog({ store: current.store, node: 'a', clock, signer, checkpointEvery: 50 });
      const logB = new AuditLog({ store: current.store, node: 'b', clock, signer, checkpointEvery: 50 });
      let statements = 0;
      const counting = { recordMany: (inputs: Parameters<AuditLog['recordMany']>[0]) => (statements++, logA.recordMany(inputs)) };
      const a = new AuditBatcher(counting, silentLogger);
      const b = new AuditBatcher(logB, silentLogger);
      const event = (node: string, i: number) => ({ actor: `${node}@clinic.test`, action: 'message.submitted', target: `${node}${i}`, protocol: 'smtp', detail: { n: i } });
      await Promise.all([
        ...Array.from({ length: 120 }, (_, i) => a.add(event('a', i))),
        ...Array.from({ length: 120 }, (_, i) => b.add(event('b', i))),
      ]);
      expect(statements).toBeLessThan(10);
      const events = await logA.list({ limit: 1000 });
      expect(events).toHaveLength(240);
      // Each node's events keep the order they were added in.
      for (const node of ['a', 'b']) expect(events.filter((e) => e.node === node).map((e) => (e.detail as { n: number }).n)).toEqual(Array.from({ length: 120 }, (_, i) => i));
      const report = await logA.verify();
      expect(report).toMatchObject({ ok: true, events: 240, broken: null });
      // A batch crossing a multiple of checkpointEvery signs the head.
      expect(report.checkpoints).toBeGreaterThan(0);
    });

    it.skipIf(!available)('two batchers of one log (the SMTP side and delivery) write the events of one turn in one statement', async () => {
      current = await openTestStore(dialect);
      const log = new AuditLog({ store: current.store, node: 'a', clock, signer: auditSigner(Buffer.alloc(32, 5)) });
      const batches: string[][] = [];
      const counting = { recordMany: (inputs: Parameters<AuditLog['recordMany']>[0]) => (batches.push(inputs.map((i) => i.action)), log.recordMany(inputs)) };
      const smtpSide = new AuditBatcher(counting, silentLogger);
      const delivery = new AuditBatcher(counting, silentLogger);
      await Promise.all([smtpSide.add({ actor: 'x', action: 'message.received' }), delivery.add({ actor: 'node:a', action: 'message.delivered' }), smtpSide.add({ actor: 'y', action: 'message.received' })]);
      expect(batches).toEqual([['message.received', 'message.delivered', 'message.received']]);
      // flush on either waits for the other's events too.
      const late = delivery.add({ actor: 'node:a', action: 'message.delivered' });
      await smtpSide.flush();
      await late;
      expect((await log.list()).map((e) => e.action)).toEqual(['message.received', 'message.delivered', 'message.received', 'message.delivered']);
    });

    it.skipIf(!available)('a batch that cannot be written rejects every event in it, and the next batch still goes', async () => {
      current = await openTestStore(dialect);
      const log = new AuditLog({ store: current.store, node: 'a', clock, signer: auditSigner(Buffer.alloc(32, 4)) });
      let fail = true;
      const flaky = { recordMany: async (inputs: Parameters<AuditLog['recordMany']>[0]) => { if (fail) throw new Error('database away'); return log.recordMany(inputs); } };
      const batcher = new AuditBatcher(flaky, silentLogger);
      const first = await Promise.allSettled([batcher.add({ actor: 'x', action: 'message.received' }), batcher.add({ actor: 'y', action: 'message.received' })]);
      expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      fail = false;
      await batcher.add({ actor: 'z', action: 'message.received' });
      await batcher.flush();
      expect((await log.list()).map((e) => e.actor)).toEqual(['z']);
    });
  });
}
