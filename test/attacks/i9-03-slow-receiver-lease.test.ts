import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receivedCounts, recipientStates, sendMessage, startNode } from '../helpers/cluster.ts';
import type { GatewayProcess } from '../helpers/gateway.ts';
import { tempDir, until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { createTestSchema, hasPostgres, type TestSchema } from '../helpers/stores.ts';

/*
 * Issue 9, item 3: a receiver slower than the lease (DATA answered after 7 s, lease 5 s) got
 * every message twice: leases were never renewed, and a node leased `concurrency` groups
 * while only `perDomainConcurrency` could send, so waiting for a slot spent the lease too.
 * Now a node leases only what can start and renews the leases of attempts in progress.
 */
const available = await hasPostgres();
const MESSAGES = 6;

describe.skipIf(!available)('i9-03 a delivery slower than the lease', () => {
  const temp = tempDir('i9-03');
  let schema: TestSchema;
  let rx: RecordingSmtp;
  const nodes: GatewayProcess[] = [];

  beforeAll(async () => {
    schema = await createTestSchema('i903');
    rx = await startRecordingSmtp({ dataReplyDelayMs: 1500 });
    for (const name of ['a', 'b']) {
      nodes.push(await startNode(path.join(temp.dir, name), schema, rx, { queue: { leaseMs: 900, pollIntervalMs: 100 }, delivery: { concurrency: 20, perDomainConcurrency: 2 } }));
    }
  }, 60_000);

  afterAll(async () => {
    for (const node of nodes) await node.kill('SIGKILL');
    await rx?.stop();
    await schema?.drop();
    temp.cleanup();
  });

  it('sends each message exactly once', async () => {
    for (let i = 0; i < MESSAGES; i++) expect((await sendMessage(nodes[0].ports.inbound, `slow-${i}`)).acked).toBe(true);
    await until(async () => (await recipientStates(schema)).delivered === MESSAGES, 30_000, 'all delivered');
    await new Promise((r) => setTimeout(r, 1000)); // a second copy would be under way by now
    const counts = receivedCounts(rx);
    expect([...counts].sort()).toEqual(Array.from({ length: MESSAGES }, (_, i) => [`slow-${i}`, 1]));
    expect(await recipientStates(schema)).toEqual({ delivered: MESSAGES });
  }, 60_000);
});
