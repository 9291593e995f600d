import { describe, expect, it } from 'vitest';
import { nodesOnSchema } from '../helpers/cluster-rig.ts';
import { alive, receivedCounts, recipientStates, sendMessage, terminateBackends, type SendResult } from '../helpers/cluster.ts';
import { until } from '../helpers/ports.ts';
import { hasPostgres } from '../helpers/stores.ts';

/*
 * Issue 9, item 1: terminating the nodes' database connections (what a PostgreSQL restart or
 * fail-over does) killed every node at once: "Unhandled 'error' event … at
 * Client.idleListener". Now both nodes ride it out while mail flows: a message the database
 * could not take is refused with 451 4.3.0, every message acknowledged with 250 arrives,
 * and the nodes go on without a restart.
 */
const available = await hasPostgres();

describe.skipIf(!available)('i9-01 a dropped database connection', () => {
  const rig = nodesOnSchema({ prefix: 'i9-01', schema: 'i901', nodes: ['a', 'b'].map((name) => [name, { queue: { leaseMs: 3000 } }]) });
  const nodes = rig.nodes;

  it('does not kill a node; refuses with 451 4.3.0 and loses nothing acknowledged', async () => {
    const results: SendResult[] = [];
    const sender = async (lane: number) => {
      for (let i = 0; i < 8; i++) results.push(await sendMessage(nodes[(lane + i) % 2].ports.inbound, `drop-${lane}-${i}`));
    };
    let terminated = 0;
    const killer = (async () => {
      for (let round = 0; round < 4; round++) {
        await new Promise((r) => setTimeout(r, 150));
        terminated += await terminateBackends(rig.schema, nodes);
      }
    })();
    await Promise.all([sender(0), sender(1), sender(2), killer]);
    expect(terminated).toBeGreaterThan(0);
    expect(nodes.map(alive), nodes.map((n) => n.output().slice(-2000)).join('\n----\n')).toEqual([true, true]);
    // Recovered without a restart: both still take and deliver mail.
    for (let i = 0; i < 4; i++) results.push(await sendMessage(nodes[i % 2].ports.inbound, `after-${i}`));
    expect(results.slice(-4).every((r) => r.acked)).toBe(true);
    for (const refused of results.filter((r) => !r.acked)) expect(refused.reply).toMatch(/^451 4\.3\.0 /);
    const acked = results.filter((r) => r.acked).map((r) => r.subject);
    await until(() => acked.every((s) => receivedCounts(rig.rx).has(s)), 20_000, 'every acknowledged message at the receiver').catch((error: Error) => {
      const missing = acked.filter((s) => !receivedCounts(rig.rx).has(s));
      throw new Error(`${error.message}; missing ${missing.join(', ')}\n${nodes.map((n) => n.output().slice(-3000)).join('\n----\n')}`);
    });
    await until(async () => Object.keys(await recipientStates(rig.schema)).every((s) => s === 'delivered'), 10_000, 'every recipient delivered');
    expect(nodes.map(alive)).toEqual([true, true]);
    expect(nodes.map((n) => n.output()).join('')).not.toMatch(/Unhandled 'error' event/);
  }, 60_000);
});
