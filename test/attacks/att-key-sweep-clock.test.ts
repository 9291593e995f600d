import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SmtpClient } from '../../src/smtp/index.ts';
import { CLUSTER_DOMAIN, clockAhead, recipientStates, startNode } from '../helpers/cluster.ts';
import { nodesOnSchema } from '../helpers/cluster-rig.ts';
import { until } from '../helpers/ports.ts';
import { hasPostgres } from '../helpers/stores.ts';

/*
 * Attack (issue 9 items 4 and 8 together): each body's data key is written when its upload
 * starts, before the message row exists. The crash sweep of stray keys judged "older than an
 * hour" by the writing node's clock (the row's stamp) against the sweeping node's. A node
 * whose clock runs 2 h ahead, started while another node was receiving a body, destroyed that
 * upload's key; the message was then committed and acknowledged with a body nobody could open
 * (an acknowledged message lost). Keys are now stamped and judged on the database's clock.
 */
const available = await hasPostgres();
const LINE = `${'x'.repeat(74)}\r\n`;
const LINES = 2000;

/** A body whose second half waits for `gate`: the upload spans whatever happens meanwhile. */
function gatedBody(subject: string, gate: Promise<void>): Readable {
  return Readable.from(
    (async function* body() {
      yield Buffer.from(`Subject: ${subject}\r\n\r\n`);
      yield Buffer.from(LINE.repeat(LINES / 2));
      await gate;
      yield Buffer.from(LINE.repeat(LINES / 2));
    })(),
  );
}

describe.skipIf(!available)('att key sweep on a node whose clock runs ahead', () => {
  const options = { queue: { orphanSweepIntervalMs: 200 }, limits: { sessionTimeoutMs: 20_000 } };
  const rig = nodesOnSchema({ prefix: 'att-key-clock', schema: 'attkeyclock', nodes: [['writer', options]] });
  const { nodes } = rig;

  it("delivers a slow upload byte for byte although a node 2 h ahead starts (and sweeps) during it", async () => {
    const { schema, rx } = rig;
    const [writer] = nodes;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const client = await SmtpClient.connect({ host: '127.0.0.1', port: writer.ports.inbound, servername: 'node', heloName: 'source.test', connectTimeoutMs: 5000, commandTimeoutMs: 30_000 });
    await client.ehlo();
    const { mail, rcpts } = await client.envelope('a@internet.test', [], [{ address: `box@${CLUSTER_DOMAIN}`, params: [] }]);
    expect([mail.code, ...rcpts.map((r) => r.code)]).toEqual([250, 250]);
    const replyPromise = client.data(gatedBody('slow-upload', gate));
    // The key of this upload exists now (written as the body starts), its row not yet.
    await until(async () => Number((await schema.query(`select count(*)::int as n from ${schema.name}.message_keys`)).rows[0].n) === 1, 5000, 'key of the upload stored');
    nodes.push(await startNode(path.join(rig.temp.dir, 'ahead'), rig.schema, rig.rx, { ...options, env: clockAhead(2 * 3_600_000) }));
    await new Promise((r) => setTimeout(r, 700)); // a few periodic sweeps of both nodes
    open();
    const reply = await replyPromise;
    await client.quit().catch(() => client.close());
    expect(reply.code).toBe(250); // acknowledged: it must arrive, whole
    await rx.until(1, 10_000).catch(() => undefined);
    const got = rx.transactions();
    expect(got.length, `states ${JSON.stringify(await recipientStates(schema))}`).toBe(1);
    const data = got[0].data;
    const bodyStart = data.indexOf('\r\n\r\n') + 4;
    expect(data.subarray(bodyStart).equals(Buffer.from(LINE.repeat(LINES)))).toBe(true);
    await until(async () => (await recipientStates(schema)).delivered === 1, 5000, 'delivered');
  }, 40_000);
});
