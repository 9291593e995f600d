/**
 * bench/cluster: two Sealgate nodes on one PostgreSQL database (the CI machine's, 127.0.0.1:5432,
 * database `test`, a fresh schema) against one Postfix relay, on this machine in one run: the
 * load is split over the two nodes, each relaying to one smtp-sink. Then the kill run: messages
 * with their own subjects over both nodes, one node SIGKILLed halfway; every acknowledged message
 * must arrive at the recording receiver (`cluster.kill.lost` = 0), duplicates are counted.
 *
 *   node bench/cluster.ts [--messages 4000] [--sessions 20] [--size 10240] [--kill-messages 1000]
 */
import path from 'node:path';
import { CLUSTER_DOMAIN, nodeIdOf, receivedCounts, sendMessage, startNode } from '../test/helpers/cluster.ts';
import { startGateway, type GatewayProcess } from '../test/helpers/gateway.ts';
import { tempDir } from '../test/helpers/ports.ts';
import { startRecordingSmtp } from '../test/helpers/recording-smtp.ts';
import { createTestSchema, hasPostgres } from '../test/helpers/stores.ts';
import { arg, figure, waitFor } from './lib.ts';
import { measure, postfixRun, sinkDestination } from './peers.ts';

const load = { messages: arg('messages', 4000), sessions: arg('sessions', 20), size: arg('size', 10_240) };
const killMessages = arg('kill-messages', 1000);
const temp = tempDir('bench-cluster');

async function twoNodesRate(): Promise<number> {
  const schema = await createTestSchema('bench_cluster');
  const destination = await sinkDestination('127.0.0.47');
  const nodes: GatewayProcess[] = [];
  try {
    for (const name of ['a', 'b']) {
      nodes.push(
        await startGateway(path.join(temp.dir, `rate-${name}`), {
          store: { url: schema.url },
          vault: { masterKeyFile: path.join(temp.dir, 'rate-master.key') },
          domains: { 'sink.test': { smarthost: destination.address } },
          delivery: { concurrency: load.sessions, perDomainConcurrency: load.sessions },
          limits: { maxConnectionsPerIp: 1000, maxCommandsPerMinute: 1_000_000 },
          web: { enabled: false },
          log: { level: 'warn' },
        }),
      );
    }
    return await measure('two sealgate nodes', nodes.map((n) => `127.0.0.1:${n.ports.inbound}`), destination, load);
  } finally {
    for (const node of nodes) await node.kill();
    await destination.stop();
    await schema.drop();
  }
}

async function killRun(): Promise<{ lost: number; duplicates: number; inFlight: number; acknowledged: number }> {
  const schema = await createTestSchema('bench_kill');
  // A little slow, so deliveries are in flight when the node dies.
  const rx = await startRecordingSmtp({ dataReplyDelayMs: 10 });
  const options = { queue: { retryScheduleMs: [500], pollIntervalMs: 100, leaseMs: 4000 }, delivery: { perDomainConcurrency: 20 } };
  const nodes = [await startNode(path.join(temp.dir, 'kill-a'), schema, rx, options), await startNode(path.join(temp.dir, 'kill-b'), schema, rx, options)];
  try {
    const [survivor, victim] = nodes;
    const victimId = nodeIdOf(victim);
    const acknowledged: string[] = [];
    let inFlight = 0;
    let next = 0;
    let killed = false;
    const sender = async () => {
      while (next < killMessages) {
        const i = next++;
        if (i >= killMessages / 2 && !killed) {
          killed = true;
          await victim.kill('SIGKILL');
          const leased = await schema.query(`select count(*)::int as n from ${schema.name}.recipients where state = 'leased' and lease_owner = '${victimId}'`);
          inFlight = leased.rows[0].n;
        }
        const node = killed || i % 2 === 0 ? survivor : victim;
        const subject = `k-${i}`;
        if ((await sendMessage(node.ports.inbound, subject)).acked) acknowledged.push(subject);
      }
    };
    await Promise.all(Array.from({ length: 8 }, sender));
    const arrived = () => receivedCounts(rx);
    await waitFor(() => acknowledged.every((s) => arrived().has(s)), 5 * 60_000, 'every acknowledged message at the receiver').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 2000));
    const counts = arrived();
    const lost = acknowledged.filter((s) => !counts.has(s)).length;
    const duplicates = [...counts.values()].reduce((sum, n) => sum + (n - 1), 0);
    return { lost, duplicates, inFlight, acknowledged: acknowledged.length };
  } finally {
    for (const node of nodes) await node.kill('SIGKILL');
    await rx.stop();
    await schema.drop();
  }
}

if (!(await hasPostgres())) {
  console.error('bench/cluster needs PostgreSQL at 127.0.0.1:5432 (database test, trust auth), or SEALGATE_TEST_POSTGRES');
  process.exit(69);
}
try {
  console.log(`cluster: ${load.messages} messages of ${load.size} bytes over ${load.sessions} sessions; kill run ${killMessages} messages to ${CLUSTER_DOMAIN}`);
  const sealgate = await twoNodesRate();
  const postSink = await sinkDestination('127.0.0.48');
  const postfix = await postfixRun(postSink, 'cluster', '127.0.0.49', load);
  await postSink.stop();
  figure('cluster.two_nodes.sealgate.msgs_per_s', sealgate, 1);
  figure('cluster.postfix.msgs_per_s', postfix.rate, 1);
  figure('cluster.two_nodes.ratio', sealgate / postfix.rate, 2);
  const kill = await killRun();
  figure('cluster.kill.acknowledged', kill.acknowledged, 0);
  figure('cluster.kill.in_flight', kill.inFlight, 0);
  figure('cluster.kill.lost', kill.lost, 0);
  figure('cluster.kill.duplicates', kill.duplicates, 0);
} finally {
  temp.cleanup();
}
