import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipientStates, sendMessage, startNode } from '../helpers/cluster.ts';
import type { GatewayProcess } from '../helpers/gateway.ts';
import { tempDir, until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { createTestSchema, hasPostgres, type TestSchema } from '../helpers/stores.ts';

/*
 * Attack (issue 9 item 2, one step further): a node paused (SIGSTOP, a hung VM) in the middle
 * of its settle transaction. Its connection stays up, so PostgreSQL keeps the transaction
 * open and the recipient rows locked; every other node's lease skips locked rows, so the
 * lease that ran out was never taken over: the message stayed `leased` for as long as the
 * node stayed paused (no report, body never shredded). Connections now end a transaction
 * left idle by its client (idle_in_transaction_session_timeout): the rows go back to their
 * committed state and the lease rules apply.
 */
const available = await hasPostgres();

describe.skipIf(!available)('att a node paused inside its settle transaction', () => {
  const temp = tempDir('att-paused-trx');
  let schema: TestSchema;
  let rx: RecordingSmtp;
  const nodes: GatewayProcess[] = [];

  beforeAll(async () => {
    schema = await createTestSchema('attpausedtrx');
    rx = await startRecordingSmtp();
    nodes.push(await startNode(path.join(temp.dir, 'first'), schema, rx));
    // The settle's update of a delivered recipient takes a moment: the pause lands inside it.
    await schema.query(`create function ${schema.name}.slow_settle() returns trigger language plpgsql as $$ begin perform pg_sleep(1.5); return new; end $$`);
    await schema.query(`create trigger slow_settle before update on ${schema.name}.recipients for each row when (new.state = 'delivered') execute function ${schema.name}.slow_settle()`);
  }, 60_000);

  afterAll(async () => {
    for (const node of nodes) {
      node.child.kill('SIGCONT');
      await node.kill('SIGKILL');
    }
    await rx?.stop();
    await schema?.drop();
    temp.cleanup();
  });

  it('another node takes the work over once the lease has run out', async () => {
    const [first] = nodes;
    expect((await sendMessage(first.ports.inbound, 'paused-trx')).acked).toBe(true);
    await rx.until(1, 10_000);
    first.child.kill('SIGSTOP'); // inside the settle: its transaction holds the row
    nodes.push(await startNode(path.join(temp.dir, 'second'), schema, rx));
    // The lease (2 s) has run out; the second node must be able to settle it (a duplicate
    // copy is allowed: the first node's result never committed).
    await until(async () => (await recipientStates(schema)).delivered === 1, 20_000, 'delivered by the second node');
    expect(rx.transactions().length).toBeGreaterThanOrEqual(1);
  }, 40_000);
});
