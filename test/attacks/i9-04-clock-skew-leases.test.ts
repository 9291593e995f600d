import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receivedCounts, recipientStates, sendMessage, startNode } from '../helpers/cluster.ts';
import type { GatewayProcess } from '../helpers/gateway.ts';
import { tempDir, until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { createTestSchema, hasPostgres, type TestSchema } from '../helpers/stores.ts';

/*
 * Issue 9, item 4: lease expiry compared each node's own clock with deadlines other nodes
 * wrote; a node 60 s ahead saw every lease of the others as expired and sent their mail a
 * second time (40 of 100 copies). Lease and due times now come from the database's clock.
 */
const available = await hasPostgres();
const MESSAGES = 8;
const PRELOAD = path.resolve(import.meta.dirname, '../helpers/clock-skew-preload.ts');

describe.skipIf(!available)('i9-04 a node whose clock runs 60 s ahead', () => {
  const temp = tempDir('i9-04');
  let schema: TestSchema;
  let rx: RecordingSmtp;
  const nodes: GatewayProcess[] = [];

  beforeAll(async () => {
    schema = await createTestSchema('i904');
    rx = await startRecordingSmtp({ dataReplyDelayMs: 400 });
    const options = { queue: { leaseMs: 5000, pollIntervalMs: 100 }, delivery: { perDomainConcurrency: 2 } };
    nodes.push(await startNode(path.join(temp.dir, 'on-time'), schema, rx, options));
    nodes.push(
      await startNode(path.join(temp.dir, 'ahead'), schema, rx, {
        ...options,
        env: { NODE_OPTIONS: `--import ${PRELOAD}`, SEALGATE_TEST_CLOCK_SKEW_MS: '60000' },
      }),
    );
  }, 60_000);

  afterAll(async () => {
    for (const node of nodes) await node.kill('SIGKILL');
    await rx?.stop();
    await schema?.drop();
    temp.cleanup();
  });

  it('sends no duplicates and delays nothing', async () => {
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
