/**
 * The admin listener: `/metrics` (Prometheus text), `/healthz` (the process answers) and
 * `/readyz` (every check passes: the store answers, the listeners are up, delivery runs).
 * Plain HTTP on loopback by default, like Postfix's and most exporters' metrics ports: it
 * carries counts, never message data; `config check` warns when it listens wider.
 * node:http rather than the portal's Fastify: three fixed GET routes, no sessions, no body.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger, Service } from '../kernel/index.ts';

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  /** Why not, in words an operator can act on. */
  detail?: string;
}

export interface OpsListenerDeps {
  host: string;
  port: number;
  /** The exposition text and its content type. */
  metrics(): Promise<{ body: string; contentType: string }>;
  readiness(): Promise<ReadinessCheck[]>;
  logger: Logger;
}

export interface OpsListener extends Service {
  address(): { host: string; port: number };
}

function send(response: http.ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-length': Buffer.byteLength(body) });
  response.end(head ? undefined : body);
}

export function createOpsListener(deps: OpsListenerDeps): OpsListener {
  const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (request, response) => {
    void handle(request, response).catch((error: Error) => {
      deps.logger.error({ err: error.message, path: request.url }, 'admin listener request failed');
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n', false);
      else response.destroy();
    });
  });
  server.maxConnections = 64;

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const head = request.method === 'HEAD';
    if (request.method !== 'GET' && !head) {
      response.setHeader('allow', 'GET, HEAD');
      return send(response, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', false);
    }
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz') return send(response, 200, 'text/plain; charset=utf-8', 'ok\n', head);
    if (path === '/readyz') {
      const checks = await deps.readiness();
      const ready = checks.every((c) => c.ok);
      return send(response, ready ? 200 : 503, 'application/json; charset=utf-8', `${JSON.stringify({ ready, checks })}\n`, head);
    }
    if (path === '/metrics') {
      const { body, contentType } = await deps.metrics();
      return send(response, 200, contentType, body, head);
    }
    send(response, 404, 'text/plain; charset=utf-8', 'not found: /metrics, /healthz, /readyz\n', head);
  }

  return {
    name: 'admin-listener',
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(deps.port, deps.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      deps.logger.info({ ...this.address() }, 'admin listener up: /metrics, /healthz, /readyz');
    },
    async stop() {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    address() {
      const address = server.address() as AddressInfo;
      return { host: address.address, port: address.port };
    },
  };
}
