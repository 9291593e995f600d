import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { SmtpClient } from '../../../src/smtp/index.ts';
import { CLUSTER_DOMAIN, nodeIdOf } from '../../helpers/cluster.ts';
import { nodesOnSchema } from '../../helpers/cluster-rig.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { until } from '../../helpers/ports.ts';
import { hasPostgres } from '../../helpers/stores.ts';

/*
 * The 3-node proof of issue 14: three nodes on one PostgreSQL schema, CLUSTER_MESSAGES (300 in
 * the suite; 2,000 for the run) submitted across them, one node SIGKILLed halfway.
 * Every message that got a 250 reaches the receiver; duplicates are counted and are at most
 * the deliveries the killed node had in flight (its leases) at the kill.
 */
const available = await hasPostgres();
const COUNT = Number(process.env.CLUSTER_MESSAGES ?? 300);

async function send(port: number, subject: string): Promise<boolean> {
  try {
    const client = await SmtpClient.connect({ host: '127.0.0.1', port, servername: 'node', heloName: 'source.test', connectTimeoutMs: 3000, commandTimeoutMs: 15_000 });
    try {
      await client.ehlo();
      const { rcpts } = await client.envelope('a@internet.test', [], [{ address: `box@${CLUSTER_DOMAIN}`, params: [] }]);
      if (rcpts[0].code !== 250) return false;
      const body = new PassThrough();
      body.end(Buffer.from(`Subject: ${subject}\r\n\r\nbody of ${subject}\r\n`));
      return (await client.data(body)).code === 250;
    } finally {
      await client.quit().catch(() => undefined);
    }
  } catch {
    return false;
  }
}

describeWithPeers(['root'], 'three gateway nodes on PostgreSQL, one killed mid-run', () => {
  // The receiver a little slow, so deliveries are in flight when the node dies.
  const rig = available
    ? nodesOnSchema({
        prefix: 'three-nodes',
        schema: 'tn',
        recorder: { dataReplyDelayMs: 20 },
        nodes: ['a', 'b', 'c'].map((name) => [name, { queue: { retryScheduleMs: [500], pollIntervalMs: 200, leaseMs: 4000 }, delivery: { perDomainConcurrency: 20 } }]),
      })
    : undefined;
  const nodes = rig?.nodes ?? [];

  it.skipIf(!available)(`every acknowledged message of ${COUNT} arrives; duplicates at most the killed node's leases`, async () => {
    const victim = nodes[2];
    const victimId = nodeIdOf(victim);
    const schema = rig!.schema;
    const acknowledged: string[] = [];
    let inFlightAtKill = 0;
    let next = 0;
    let killed = false;
    const sender = async () => {
      while (next < COUNT) {
        const i = next++;
        if (i >= COUNT / 2 && !killed) {
          killed = true;
          await victim.kill('SIGKILL');
          // What it held when it died stays leased to it until the lease runs out (4 s).
          const leased = await schema.query(`select count(*)::int as n from ${schema.name}.recipients where state = 'leased' and lease_owner = '${victimId}'`);
          inFlightAtKill = leased.rows[0].n;
        }
        const node = nodes[killed ? i % 2 : i % 3];
        const subject = `m-${i}`;
        if (await send(node.ports.inbound, subject)) acknowledged.push(subject);
      }
    };
    await Promise.all(Array.from({ length: 8 }, sender));
    expect(acknowledged.length).toBeGreaterThanOrEqual(COUNT - 8); // only sessions cut by the kill may fail
    const subjects = () => rig!.rx.transactions().map((t) => /Subject: (\S+)/.exec(t.data.toString())?.[1] ?? '');
    await until(() => acknowledged.every((s) => new Set(subjects()).has(s)), 90_000, 'every acknowledged message at the receiver');
    await new Promise((r) => setTimeout(r, 1_000));
    const seen = subjects();
    const duplicates = seen.length - new Set(seen).size;
    process.stderr.write(`three nodes: ${COUNT} submitted, ${acknowledged.length} acknowledged, ${seen.length} received, duplicates ${duplicates}, in flight at kill ${inFlightAtKill}\n`);
    expect(duplicates).toBeLessThanOrEqual(inFlightAtKill);
  }, 240_000);
});
