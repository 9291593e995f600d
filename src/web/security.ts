import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/*
 * What every response carries: HSTS, a CSP whose scripts run only with this request's nonce,
 * no framing, no sniffing, no referrer, no caching of pages that show message content. CSRF is
 * a double-submit token: a random `__Host-` cookie (so no sibling host can set it) that every
 * POST must repeat in its `_csrf` field; SameSite=Strict on all cookies is the second fence.
 */

export const COOKIE = { csrf: '__Host-sg-csrf', read: '__Host-sg-read', console: '__Host-sg-console', admin: '__Host-sg-admin', enrol: '__Host-sg-enrol' } as const;

export const cookieOptions = { path: '/', secure: true, httpOnly: true, sameSite: 'strict' } as const;

export interface RequestContext {
  nonce: string;
  csrf: string;
  /** The reading page allows data: images, which a sanitised message frame may show. */
  dataImages: boolean;
  /** The reading page frames the message's own document (frame.ts): `frame-src 'self'`. */
  framesMessage?: boolean;
  /** A document the portal frames itself (the message's HTML, frame.ts): its own CSP, framable by this origin only. */
  framedCsp?: string;
}

const contexts = new WeakMap<FastifyRequest, RequestContext>();

export function ctx(request: FastifyRequest): RequestContext {
  let context = contexts.get(request);
  if (!context) {
    context = { nonce: randomBytes(16).toString('base64'), csrf: '', dataImages: false };
    contexts.set(request, context);
  }
  return context;
}

export function contentSecurityPolicy(nonce: string, dataImages = false, framesMessage = false): string {
  return [
    // connect-src: the idle warning's "Stay signed in" asks this origin for the page again (layout.ts).
    "default-src 'none'", `script-src 'nonce-${nonce}'`, "style-src 'self'", `img-src 'self'${dataImages ? ' data:' : ''}`, "connect-src 'self'", ...(framesMessage ? ["frame-src 'self'"] : []),
    "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
  ].join('; ');
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export function installSecurity(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const context = ctx(request);
    // RFC 9112 §3.2: an HTTP/1.1 request without Host gets 400 (the page and headers of any error).
    if (request.raw.httpVersionMajor === 1 && request.raw.httpVersionMinor >= 1 && request.headers.host === undefined) {
      throw new HttpError(400, 'The request was not understood. Go back and try again.');
    }
    const existing = request.cookies[COOKIE.csrf];
    if (existing && TOKEN.test(existing)) {
      context.csrf = existing;
    } else {
      context.csrf = randomBytes(32).toString('base64url');
      reply.setCookie(COOKIE.csrf, context.csrf, cookieOptions);
    }
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const context = ctx(request);
    for (const [name, value] of Object.entries(securityHeaders(context.nonce, context.dataImages, context.framesMessage))) reply.header(name, value);
    if (context.framedCsp) reply.header('content-security-policy', context.framedCsp).header('x-frame-options', 'SAMEORIGIN');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
}

/** The headers every response carries, error or not (also written raw for parser errors, see errors.ts). */
export function securityHeaders(nonce: string, dataImages = false, framesMessage = false): Record<string, string> {
  return {
    'strict-transport-security': 'max-age=31536000',
    'content-security-policy': contentSecurityPolicy(nonce, dataImages, framesMessage),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), interest-cohort=()',
  };
}

/** True when `given` repeats the request's CSRF cookie (compared in constant time). */
export function csrfMatches(request: FastifyRequest, given: unknown): boolean {
  const cookie = request.cookies[COOKIE.csrf];
  if (typeof given !== 'string' || !cookie || !TOKEN.test(cookie)) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(cookie);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class HttpError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
  }
}

export const CSRF_FAILED = 'This form has expired or did not come from this site. Go back, reload the page and send it again.';

/** For form posts: throws a 403 the error handler shows as a page. */
export function requireCsrf(request: FastifyRequest): void {
  const body = request.body as Record<string, unknown> | undefined;
  if (!csrfMatches(request, body?._csrf)) throw new HttpError(403, CSRF_FAILED);
}

export function sendPage(reply: FastifyReply, status: number, page: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page);
}
