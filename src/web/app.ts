import { readFileSync } from 'node:fs';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import fastifyMultipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import { isPickupError } from '../pickup/index.ts';
import { registerAdmin } from './admin.ts';
import { registerConsole } from './console.ts';
import type { WebContext, WebDeps } from './context.ts';
import { html } from './html.ts';
import { notice, page } from './layout.ts';
import { pickupErrorPage, registerPortal } from './portal.ts';
import { intermediateTlsOptions } from '../smtp/index.ts';
import { capConnectionsPerIp, closeIdleConnections } from './connections.ts';
import { clientErrorHandler, errorPage, frameworkErrorHandler, statusText } from './errors.ts';
import { i18n, installLocale, rememberSite } from './i18n/index.ts';
import { HttpError, ctx, installSecurity, sendPage } from './security.ts';
import { WebSessions } from './sessions.ts';
import { registerStatic } from './static-routes.ts';
import { LOGO_PATH, loadLogo, registerLogo } from './logo.ts';

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
  const branding = deps.config.branding;
  const logo = branding.logoFile ? loadLogo(branding.logoFile) : undefined;
  const site = { organisation: branding.organisation, contact: branding.contact, logo: logo ? LOGO_PATH : undefined };
  rememberSite(app, site);

  app.register(fastifyCookie);
  app.register(fastifyFormbody, { bodyLimit: FORM_LIMIT });
  app.register(fastifyMultipart, { limits: { fileSize: deps.config.limits.maxMessageBytes, files: 20, fields: 10, fieldSize: 1024 * 1024, parts: 40 } });
  app.register(async (scope) => {
    installSecurity(scope);
    installLocale(scope, site);
    scope.setErrorHandler((error, request, reply) => {
      if (reply.sent) return;
      const tr = i18n(request);
      let status = 500;
      let text = tr.text('error.500');
      if (error instanceof HttpError) {
        status = error.statusCode;
        text = error.message;
      } else if (isPickupError(error)) {
        const failure = pickupErrorPage(request, error.reason, error.message);
        return sendPage(reply, failure.status, failure.page);
      } else if (typeof (error as { statusCode?: number }).statusCode === 'number' && (error as { statusCode: number }).statusCode < 500) {
        status = (error as { statusCode: number }).statusCode;
        text = status === 413 ? tr.text('error.413.limit', { mb: maxUploadMb }) : statusText(status, tr);
      }
      if (status >= 500) deps.logger.error({ err: (error as Error).message, method: request.method, route: request.routeOptions.url }, 'web request failed');
      return sendPage(reply, status, errorPage(status, text, ctx(request).nonce, tr));
    });
    scope.setNotFoundHandler((request, reply) => sendPage(reply, 404, errorPage(404, statusText(404, i18n(request)), ctx(request).nonce, i18n(request))));

    registerStatic(scope);
    if (logo) registerLogo(scope, logo);
    scope.get('/', async (request, reply) => {
      const tr = i18n(request);
      return sendPage(reply, 200, page({
        title: tr.text('home.title'), nonce: ctx(request).nonce, i18n: tr,
        body: html`<h1>${tr.t('home.heading')}</h1><p>${tr.t('home.text')}</p><p><a href="/console">${tr.t('home.console')}</a></p>`,
      }));
    });
    registerPortal(scope, context);
    registerConsole(scope, context);
    registerAdmin(scope, context);
  });
  return { app, sessions };
}
