import { readFileSync } from 'node:fs';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import fastifyMultipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import { isPickupError } from '../pickup/index.ts';
import { registerConsole } from './console.ts';
import type { WebContext, WebDeps } from './context.ts';
import { html } from './html.ts';
import { notice, page } from './layout.ts';
import { pickupErrorPage, registerPortal } from './portal.ts';
import { intermediateTlsOptions } from '../smtp/index.ts';
import { capConnectionsPerIp, closeIdleConnections } from './connections.ts';
import { STATUS_TEXT, clientErrorHandler, errorPage, frameworkErrorHandler } from './errors.ts';
import { HttpError, ctx, installSecurity, sendPage } from './security.ts';
import { WebSessions } from './sessions.ts';
import { registerStatic } from './static-routes.ts';

const FORM_LIMIT = 64 * 1024;

/** The portal as a Fastify app over HTTPS (not listening yet): for the service and for inject tests. */
export function buildWebApp(deps: WebDeps): { app: FastifyInstance; sessions: WebSessions } {
  const web = deps.config.web;
  const tls = web.certFile && web.keyFile ? { key: readFileSync(web.keyFile, 'utf8'), cert: readFileSync(web.certFile, 'utf8') } : deps.tls;
  const app = Fastify({
    https: {
      // The SMTP listeners' profile: Mozilla intermediate, AEAD only, no renegotiation.
      ...intermediateTlsOptions(tls.key, tls.cert),
      handshakeTimeout: web.connectionIdleTimeoutMs,
      // Read by Node's HTTP server; its timeout checks run this often (default every 30 s).
      headersTimeout: Math.min(web.headersTimeoutMs, web.requestTimeoutMs),
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(web.headersTimeoutMs / 4))),
      // Node would answer a missing Host itself, without our headers: installSecurity does it.
      requireHostHeader: false,
    } as Record<string, unknown>,
    logger: false,
    trustProxy: false,
    bodyLimit: FORM_LIMIT,
    requestTimeout: web.requestTimeoutMs,
    keepAliveTimeout: web.keepAliveTimeoutMs,
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
    return503OnClosing: true,
  });
  closeIdleConnections(app.server, web.connectionIdleTimeoutMs);
  capConnectionsPerIp(app.server, web.maxConnectionsPerIp, (address) => deps.logger.warn({ ip: address }, 'portal per-IP connection limit reached'));
  const sessions = new WebSessions(deps.store, deps.clock, web.idleTimeoutMs);
  const context: WebContext = { ...deps, sessions };
  const maxUploadMb = Math.floor(deps.config.limits.maxMessageBytes / 1024 / 1024);

  app.register(fastifyCookie);
  app.register(fastifyFormbody, { bodyLimit: FORM_LIMIT });
  app.register(fastifyMultipart, { limits: { fileSize: deps.config.limits.maxMessageBytes, files: 20, fields: 10, fieldSize: 1024 * 1024, parts: 40 } });
  app.register(async (scope) => {
    installSecurity(scope);
    scope.setErrorHandler((error, request, reply) => {
      if (reply.sent) return;
      let status = 500;
      let text = 'Something went wrong on our side. Try again in a minute; if it keeps happening, tell the sender.';
      if (error instanceof HttpError) {
        status = error.statusCode;
        text = error.message;
      } else if (isPickupError(error)) {
        const failure = pickupErrorPage(request, error.reason, error.message);
        return sendPage(reply, failure.status, failure.page);
      } else if (typeof (error as { statusCode?: number }).statusCode === 'number' && (error as { statusCode: number }).statusCode < 500) {
        status = (error as { statusCode: number }).statusCode;
        text = status === 413 ? `The upload is too large: at most ${maxUploadMb} MB in all.` : STATUS_TEXT[status] ?? STATUS_TEXT[400];
      }
      if (status >= 500) deps.logger.error({ err: (error as Error).message, method: request.method, route: request.routeOptions.url }, 'web request failed');
      return sendPage(reply, status, errorPage(status, text, ctx(request).nonce));
    });
    scope.setNotFoundHandler((request, reply) => sendPage(reply, 404, errorPage(404, STATUS_TEXT[404], ctx(request).nonce)));

    registerStatic(scope);
    scope.get('/', async (request, reply) => sendPage(reply, 200, page({
      title: 'Secure messages', nonce: ctx(request).nonce,
      body: html`<h1>Secure Message Pickup</h1><p>To read a secure message, open the link in the notice e-mail you received.</p><p><a href="/console">Sender console</a></p>`,
    })));
    registerPortal(scope, context);
    registerConsole(scope, context);
  });
  return { app, sessions };
}
