import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SmtpClient } from '../../src/smtp/index.ts';
import { CLUSTER_DOMAIN, clockAhead, recipientStates } from '../helpers/cluster.ts';
import { nodesOnSchema } from '../helpers/cluster-rig.ts';
import { until } from '../helpers/ports.ts';
import { hasPostgres } from '../helpers/stores.ts';

/*
 * Attack (issue 9 items 4 and 6 together): the periodic sweep of orphan `message_chunks`
 * stamped each piece with the writing node's clock and compared it with the sweeping node's.
 * A node whose clock runs ahead by more than the sweep's age (limits.sessionTimeoutMs + 60 s)
 * deleted the first pieces of a body another node was still receiving; that node then
 * committed the message and answered 250 for a body that no longer existed (an acknowledged
 * message lost: every attempt fails on a truncated vault object). Pieces are now stamped and
 * compared on the database's clock, as leases are.
 */
const available = await hasPostgres();
const LINE = `${'x'.repeat(74)}\r\n`;
const LINES = 40_000; // about 3 MB: several 1 MB pieces, committed one by one while it arrives

/** A body that arrives slowly (about 2 s), so sweeps run while its pieces are uncommitted. */
// Sweep age = 20 s + 60 s; the second node's clock is 120 s ahead of the first's.
const OPTIONS = { queue: { orphanSweepIntervalMs: 200 }, limits: { sessionTimeoutMs: 20_000 } };

function slowBody(subject: string): Readable {
  return Readable.from(
    (async function* body() {
      yield Buffer.from(`Subject: ${subject}\r\n\r\n`);
      for (let i = 0; i < LINES; i += 1000) {
        yield Buffer.from(LINE.repeat(1000));
        await new Promise((r) => setTimeout(r, 50));
      }
    })(),
  );
}

describe.skipIf(!available)('att orphan sweep on a node whose clock runs ahead', () => {
  const rig = nodesOnSchema({
    prefix: 'att-orphan-clock', schema: 'attorphan',
    nodes: [
      ['writer', OPTIONS],
      ['ahead', { ...OPTIONS, env: clockAhead(120_000) }],
    ],
  });
  const { nodes } = rig;

  it('delivers the whole body of a slow upload that spans the other node\'s sweeps', async () => {
    const { schema, rx } = rig;
    const [writer] = nodes;
    const client = await SmtpClient.connect({ host: '127.0.0.1', port: writer.ports.inbound, servername: 'node', heloName: 'source.test', connectTimeoutMs: 5000, commandTimeoutMs: 20_000 });
    await client.ehlo();
    const { mail, rcpts } = await client.envelope('a@internet.test', [], [{ address: `box@${CLUSTER_DOMAIN}`, params: [] }]);
    expect([mail.code, ...rcpts.map((r) => r.code)]).toEqual([250, 250]);
    const reply = await client.data(slowBody('slow-upload'));
    await client.quit().catch(() => client.close());
    expect(reply.code).toBe(250); // acknowledged: it must arrive, whole
    await rx.until(1, 12_000).catch(() => undefined);
    const got = rx.transactions();
    expect(got.length, `states ${JSON.stringify(await recipientStates(schema))}`).toBe(1);
    const data = got[0].data;
    const bodyStart = data.indexOf('\r\n\r\n') + 4;
    expect(data.subarray(bodyStart).equals(Buffer.from(LINE.repeat(LINES)))).toBe(true);
    await until(async () => (await recipientStates(schema)).delivered === 1, 5000, 'delivered');
  }, 40_000);
});
