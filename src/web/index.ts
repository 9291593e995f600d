import { publicBaseUrl } from '../pickup/index.ts';
import type { AddressInfo } from 'node:net';
import type { Service } from '../kernel/index.ts';
import type { buildWebApp } from './app.ts';
import type { WebDeps } from './context.ts';

export type { WebDeps } from './context.ts';
export { frameDocument, FRAME_CSP } from './frame.ts';
export { html, trusted, escapeHtml, Html } from './html.ts';

export interface WebService extends Service {
  /** Where the portal listens (after start): the port the OS chose when web.port is 0. */
  listening(): { host: string; port: number };
}

const SWEEP_MS = 5 * 60_000;

export function createWebService(deps: WebDeps): WebService {
  let built: ReturnType<typeof buildWebApp> | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  return {
    name: 'web',
    async start() {
      // Fastify and the pages load when the portal starts: a process that imports this folder
      // for the admin listener alone (a cluster's primary) never holds them.
      const { buildWebApp } = await import('./app.ts');
      built = buildWebApp(deps);
      await built.app.listen({ host: deps.config.web.host, port: deps.config.web.port });
      const sessions = built.sessions;
      sweeper = setInterval(() => {
        sessions.sweep().catch((error) => deps.logger.warn({ err: (error as Error).message }, 'web session sweep failed'));
      }, SWEEP_MS);
      sweeper.unref();
      const { port } = this.listening();
      deps.logger.info({ host: deps.config.web.host, port, url: publicBaseUrl(deps.config, port) }, 'portal listening');
    },
    async stop() {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      await built?.app.close();
      built = undefined;
    },
    listening() {
      if (!built) throw new Error('the web service is not started');
      const address = built.app.server.address() as AddressInfo;
      return { host: address.address, port: address.port };
    },
  };
}

export { publicBaseUrl, pickupLink } from '../pickup/index.ts';
export { createOpsListener, type OpsListener, type ReadinessCheck } from './ops-listener.ts';
