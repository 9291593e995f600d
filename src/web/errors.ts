import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { html, type Html } from './html.ts';
import { i18n, translator, type MessageKey, type Translator } from './i18n/index.ts';
import { notice, page } from './layout.ts';
import { securityHeaders, sendPage } from './security.ts';

/*
 * Errors the framework raises before any route runs still get the security headers and an
 * HTML page, and never echo the request back (Fastify's defaults answer JSON quoting the path).
 * Node's HTTP parser refuses a request (headers too large, a broken request line) before
 * Fastify sees it: that answer is written to the socket whole, headers included.
 */

const STATUS_KEY = {
  400: 'error.400', 403: 'error.403', 404: 'error.404', 405: 'error.405', 408: 'error.408', 413: 'error.413',
  414: 'error.414', 415: 'error.415', 429: 'error.429', 431: 'error.431',
} as const satisfies Record<number, MessageKey>;

/** The sentence an error page shows for a status without its own text (catalogue `error.<status>`). */
export function statusText(status: number, tr: Translator = translator()): string {
  return tr.text(STATUS_KEY[status as keyof typeof STATUS_KEY] ?? 'error.400');
}

const HEADING_KEY = {
  400: 'error.heading.400', 403: 'error.heading.403', 404: 'error.heading.notFound', 405: 'error.heading.405', 408: 'error.heading.408',
  413: 'error.heading.413', 414: 'error.heading.414', 415: 'error.heading.415', 429: 'error.heading.429', 431: 'error.heading.431',
} as const satisfies Record<number, MessageKey>;

/** What went wrong, in a few words: the page's heading and title (never a bare "Error"). */
export function statusHeading(status: number, tr: Translator = translator()): string {
  if (status >= 500) return tr.text('error.heading.server');
  return tr.text(HEADING_KEY[status as keyof typeof HEADING_KEY] ?? 'error.heading.client');
}

export function errorPage(status: number, text: string | Html, nonce: string, tr: Translator = translator()): string {
  const heading = statusHeading(status, tr);
  return page({ title: heading, nonce, i18n: tr, body: html`<h1>${heading}</h1>${notice('error', text)}` });
}

/** For Fastify's `frameworkErrors` (a URL that does not decode, …): the request has no route and no hooks ran. */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const nonce = randomBytes(16).toString('base64');
  for (const [name, value] of Object.entries(securityHeaders(nonce))) reply.header(name, value);
  reply.header('cache-control', 'no-store');
  const tr = i18n(request);
  sendPage(reply, status, errorPage(status, statusText(status, tr), nonce, tr));
}

/** A complete HTTP/1.1 error response as bytes, for a socket the HTTP server has given up on. */
export function rawErrorResponse(status: number): Buffer {
  const nonce = randomBytes(16).toString('base64');
  const body = Buffer.from(errorPage(status, statusText(status), nonce), 'utf8');
  const headers = {
    ...securityHeaders(nonce),
    'cache-control': 'no-store',
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(body.length),
    connection: 'close',
  };
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Fastify's `clientErrorHandler`: Node's parser refused the request (431, 400, 408 on a timeout). */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_URI_TOO_LONG' ? 414 : 400;
  if (socket.writable) {
    socket.end(rawErrorResponse(status));
    // end() waits for the peer to read; a client that never reads does not keep the socket.
    setTimeout(() => socket.destroy(), 1_000).unref();
  } else socket.destroy();
}
