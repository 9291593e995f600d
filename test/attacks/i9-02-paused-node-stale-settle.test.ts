import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receivedCounts, recipientStates, sendMessage, startNode } from '../helpers/cluster.ts';
import type { GatewayProcess } from '../helpers/gateway.ts';
import { tempDir, until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { createTestSchema, hasPostgres, type TestSchema } from '../helpers/stores.ts';

/*
 * Issue 9, item 2: a node paused (SIGSTOP) past its lease while holding leases, the other
 * node delivered, and on SIGCONT the paused node sent its stale work again and settled it
 * `queued` over `delivered` — for a large body already deleted, every retry then failed
 * "truncated vault object". Now a settle names its lease and changes only recipients that
 * lease still holds, and the worker checks the lease before each transaction: no recipient
 * reverts, nothing is sent again except the one attempt in flight at the pause.
 */
const available = await hasPostgres();
const MESSAGES = 6;

describe.skipIf(!available)('i9-02 a node resuming after a pause', () => {
  const temp = tempDir('i9-02');
  let schema: TestSchema;
  let rx: RecordingSmtp;
  let paused: GatewayProcess;
  let other: GatewayProcess;

  beforeAll(async () => {
    schema = await createTestSchema('i902');
    rx = await startRecordingSmtp({ dataReplyDelayMs: 150 });
    // One transaction at a time per node: the unfixed node leased every group at once and
    // let them wait for the slot.
    const delivery = { perDomainConcurrency: 1 };
    paused = await startNode(path.join(temp.dir, 'paused'), schema, rx, { queue: { leaseMs: 1200, pollIntervalMs: 50 }, delivery });
    other = await startNode(path.join(temp.dir, 'other'), schema, rx, { queue: { leaseMs: 1200, pollIntervalMs: 400 }, delivery });
  }, 60_000);

  afterAll(async () => {
    for (const node of [paused, other]) {
      node?.child.kill('SIGCONT');
      await node?.kill('SIGKILL');
    }
    await rx?.stop();
    await schema?.drop();
    temp.cleanup();
  });

  it('never settles over another node’s result and sends only what was in flight again', async () => {
    const subjects: string[] = [];
    // One body above the inline limit: it lives in message_chunks and is deleted once delivered.
    const large = `${'L'.repeat(76)}\r\n`.repeat(4000);
    for (let i = 0; i < MESSAGES; i++) {
      const result = await sendMessage(paused.ports.inbound, `pause-${i}`, i === 1 ? { body: large } : {});
      expect(result.acked, result.reply).toBe(true);
      subjects.push(result.subject);
    }
    await until(() => rx.transactions().length >= 1, 5000, 'the first delivery under way');
    paused.child.kill('SIGSTOP');
    try {
      await until(() => subjects.every((s) => receivedCounts(rx).has(s)), 20_000, 'the other node delivered everything');
      await until(async () => (await recipientStates(schema)).delivered === MESSAGES, 10_000, 'all settled delivered');
    } finally {
      paused.child.kill('SIGCONT');
    }
    await new Promise((r) => setTimeout(r, 2500)); // the resumed node works through what it held
    expect(await recipientStates(schema)).toEqual({ delivered: MESSAGES });
    const log = paused.output();
    expect(log).not.toMatch(/truncated/i);
    const counts = receivedCounts(rx);
    const extra = [...counts.values()].reduce((a, b) => a + b, 0) - MESSAGES;
    // At most the one transaction the paused node had in flight (its per-domain limit).
    expect(extra, JSON.stringify([...counts])).toBeLessThanOrEqual(1);
    // The receiver got the large body whole.
    expect(rx.transactions().some((t) => t.data.length > 300_000)).toBe(true);
  }, 60_000);
});
