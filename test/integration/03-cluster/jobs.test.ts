import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { tempDir, until } from '../../helpers/ports.ts';
import { createTestSchema, hasPostgres, type TestSchema } from '../../helpers/stores.ts';

/*
 * Cluster jobs (issue 14): two nodes on one PostgreSQL schema both check the TLS-RPT round at
 * start and every minute; the scheduled_jobs claim lets exactly one of them run it per hour.
 * (Before, each node's report sender ran its own hourly round.)
 */
const available = await hasPostgres();

describeWithPeers(['root'], 'cluster jobs on PostgreSQL', () => {
  const temp = tempDir('cluster-jobs');
  let schema: TestSchema | undefined;
  const nodes: GatewayProcess[] = [];

  beforeAll(async () => {
    if (!available) return;
    schema = await createTestSchema('cj');
    for (const name of ['a', 'b']) {
      nodes.push(await startGateway(path.join(temp.dir, name), { store: { url: schema.url }, vault: { masterKeyFile: path.join(temp.dir, 'shared-master.key') } }));
    }
  });

  afterAll(async () => {
    for (const node of nodes) await node.kill();
    await schema?.drop();
    temp.cleanup();
  });

  it.skipIf(!available)('the TLS-RPT round runs once across two nodes', async () => {
    const ran = (node: GatewayProcess) => node.output().split('\n').filter((line) => line.includes('"job":"tlsrpt"') && line.includes('cluster job ran')).length;
    await until(() => nodes.some((node) => ran(node) > 0), 20_000, 'a TLS-RPT round');
    // Both nodes have made their start-up attempt (b started after a had run it).
    await until(() => nodes.every((node) => node.output().includes('sealgate started')), 20_000, 'both nodes started');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(nodes.map(ran).reduce((a, b) => a + b, 0)).toBe(1);
    const rows = await schema!.query(`select owner from ${schema!.name}.scheduled_jobs where name = 'tlsrpt'`);
    expect(rows.rows).toHaveLength(1);
    const winner = nodes.find((node) => ran(node) === 1)!;
    expect(winner.output()).toContain(`"nodeId":"${rows.rows[0].owner}"`);
  }, 90_000);
});
