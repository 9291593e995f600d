import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { startGateway, type GatewayProcess } from './gateway.ts';
import { freePort, tempDir } from './ports.ts';
import { startPostfix, type PostfixInstance } from './postfix.ts';

export const ANONYMOUS_PASSWORD = 'correct horse battery staple';

/**
 * A gateway whose submission listener is anonymous, relaying anon.test to a real Postfix, with
 * user alice@users.test. Call inside a describe: it starts in beforeAll and stops in afterAll.
 */
export function anonymousSubmissionRig(prefix: string): { gateway: () => GatewayProcess; postfix: () => PostfixInstance } {
  const temp = tempDir(prefix);
  let postfix: PostfixInstance;
  let gateway: GatewayProcess;
  beforeAll(async () => {
    const port = await freePort('127.0.0.11');
    postfix = await startPostfix({ ip: '127.0.0.11', port, name: 'mx.anon.test', mode: 'accept', domains: ['anon.test'] });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      listeners: { inbound: { host: '127.0.0.1', port: await freePort() }, submission: { host: '127.0.0.1', port: await freePort(), anonymous: true } },
      domains: { 'anon.test': { smarthost: `127.0.0.11:${port}` } },
      queue: { retryScheduleMs: [1000], pollIntervalMs: 200 },
      pickup: { fallbackOnRequirement: false, whenNoTls: false },
    }, { cli: 'in-process' });
    expect((await gateway.cli('user', 'add', 'alice@users.test', '--password', ANONYMOUS_PASSWORD)).code).toBe(0);
  });
  afterAll(async () => {
    await gateway?.kill();
    await postfix?.stop();
    temp.cleanup();
  });
  return { gateway: () => gateway, postfix: () => postfix };
}
