import { describe, expect, it } from 'vitest';
import { clockAhead, receivedCounts, recipientStates, sendMessage } from '../helpers/cluster.ts';
import { nodesOnSchema } from '../helpers/cluster-rig.ts';
import { until } from '../helpers/ports.ts';
import { hasPostgres } from '../helpers/stores.ts';

/*
 * Issue 9, item 4: lease expiry compared each node's own clock with deadlines other nodes
 * wrote; a node 60 s ahead saw every lease of the others as expired and sent their mail a
 * second time (40 of 100 copies). Lease and due times now come from the database's clock.
 */
const available = await hasPostgres();
const MESSAGES = 8;
const OPTIONS = { queue: { leaseMs: 5000, pollIntervalMs: 100 }, delivery: { perDomainConcurrency: 2 } };

describe.skipIf(!available)('i9-04 a node whose clock runs 60 s ahead', () => {
  const rig = nodesOnSchema({
    prefix: 'i9-04', schema: 'i904', recorder: { dataReplyDelayMs: 400 },
    nodes: [
      ['on-time', OPTIONS],
      ['ahead', { ...OPTIONS, env: clockAhead(60_000) }],
    ],
  });
  const { nodes } = rig;

  it('sends no duplicates and delays nothing', async () => {
    const { schema, rx } = rig;
    const [onTime, ahead] = nodes;
    // The preload works: the node's log timestamps run a minute ahead.
    const lastTime = Number([...ahead.output().matchAll(/"time":(\d+)/g)].at(-1)?.[1]);
    expect(lastTime - Date.now()).toBeGreaterThan(50_000);
    const started = Date.now();
    for (let i = 0; i < MESSAGES; i++) expect((await sendMessage((i % 2 ? ahead : onTime).ports.inbound, `skew-${i}`)).acked).toBe(true);
    await until(async () => (await recipientStates(schema)).delivered === MESSAGES, 20_000, 'all delivered');
    expect(Date.now() - started).toBeLessThan(20_000); // mail the fast node took was due at once
    await new Promise((r) => setTimeout(r, 1000));
    expect([...receivedCounts(rx)].sort()).toEqual(Array.from({ length: MESSAGES }, (_, i) => [`skew-${i}`, 1]));
  }, 60_000);
});
