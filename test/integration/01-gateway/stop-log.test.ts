import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { tempDir } from '../../helpers/ports.ts';

/** The gateway process says, as its last pino line, that it stopped, on what signal and how fast. */
const temp = tempDir('stop-log');
let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await startGateway(path.join(temp.dir, 'gw'));
});
afterAll(async () => {
  await gateway?.kill('SIGKILL');
  temp.cleanup();
});

function logLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  it(`logs "stopped" with the signal and the shutdown time on ${signal}, and exits 0`, async () => {
    if (gateway.child.exitCode !== null) await gateway.restart();
    const before = gateway.output().length;
    await gateway.kill(signal);
    expect(gateway.child.exitCode).toBe(0);
    const lines = logLines(gateway.output().slice(before));
    const stopped = lines.find((l) => l.msg === 'stopped');
    expect(stopped).toMatchObject({ level: 30, service: 'sealgate', signal });
    expect(typeof stopped!.shutdownMs).toBe('number');
    expect(stopped!.shutdownMs as number).toBeGreaterThanOrEqual(0);
    expect(stopped!.shutdownMs as number).toBeLessThan(15_000);
    expect(lines.at(-1)?.msg).toBe('stopped');
  });
}
