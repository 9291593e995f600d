import { describe, expect, it } from 'vitest';
import { nodesOnSchema } from '../helpers/cluster-rig.ts';
import { receivedCounts, recipientStates, sendMessage } from '../helpers/cluster.ts';
import { until } from '../helpers/ports.ts';
import { hasPostgres } from '../helpers/stores.ts';

/*
 * Issue 9, item 3: a receiver slower than the lease (DATA answered after 7 s, lease 5 s) got
 * every message twice: leases were never renewed, and a node leased `concurrency` groups
 * while only `perDomainConcurrency` could send, so waiting for a slot spent the lease too.
 * Now a node leases only what can start and renews the leases of attempts in progress.
 */
const available = await hasPostgres();
const MESSAGES = 6;

describe.skipIf(!available)('i9-03 a delivery slower than the lease', () => {
  const rig = nodesOnSchema({
    prefix: 'i9-03',
    schema: 'i903',
    recorder: { dataReplyDelayMs: 1500 },
    nodes: ['a', 'b'].map((name) => [name, { queue: { leaseMs: 900, pollIntervalMs: 100 }, delivery: { concurrency: 20, perDomainConcurrency: 2 } }]),
  });
  const nodes = rig.nodes;

  it('sends each message exactly once', async () => {
    for (let i = 0; i < MESSAGES; i++) expect((await sendMessage(nodes[0].ports.inbound, `slow-${i}`)).acked).toBe(true);
    await until(async () => (await recipientStates(rig.schema)).delivered === MESSAGES, 30_000, 'all delivered');
    await new Promise((r) => setTimeout(r, 1000)); // a second copy would be under way by now
    const counts = receivedCounts(rig.rx);
    expect([...counts].sort()).toEqual(Array.from({ length: MESSAGES }, (_, i) => [`slow-${i}`, 1]));
    expect(await recipientStates(rig.schema)).toEqual({ delivered: MESSAGES });
  }, 60_000);
});
