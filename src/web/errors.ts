import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { html } from './html.ts';
import { notice, page } from './layout.ts';
import { securityHeaders, sendPage } from './security.ts';

/*
 * Errors the framework raises before any route runs still get the security headers and an
 * HTML page, and never echo the request back (Fastify's defaults answer JSON quoting the path).
 * Node's HTTP parser refuses a request (headers too large, a broken request line) before
 * Fastify sees it: that answer is written to the socket whole, headers included.
 */

export const STATUS_TEXT: Record<number, string> = {
  400: 'The request was not understood. Go back and try again.',
  403: 'This is not allowed.',
  404: 'There is no such page. Check the address.',
  405: 'This page does not take that kind of request.',
  408: 'The request took too long to arrive. Try again.',
  413: 'The upload is too large.',
  414: 'The address is too long. Check the link.',
  415: 'This kind of upload is not accepted here.',
  429: 'Too many requests. Wait a minute and try again.',
  431: 'The request carried too much header data. Clear this site’s cookies and try again.',
};

export function errorPage(status: number, text: string, nonce: string): string {
  return page({ title: status === 404 ? 'Not found' : 'Error', nonce, body: html`<h1>${status === 404 ? 'Not found' : status >= 500 ? 'Something went wrong' : 'Not done'}</h1>${notice('error', text)}` });
}

/** For Fastify's `frameworkErrors` (a URL that does not decode, …): the request has no route and no hooks ran. */
export function frameworkErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const nonce = randomBytes(16).toString('base64');
  for (const [name, value] of Object.entries(securityHeaders(nonce))) reply.header(name, value);
  reply.header('cache-control', 'no-store');
  sendPage(reply, status, errorPage(status, STATUS_TEXT[status] ?? STATUS_TEXT[400], nonce));
}

/** A complete HTTP/1.1 error response as bytes, for a socket the HTTP server has given up on. */
export function rawErrorResponse(status: number): Buffer {
  const nonce = randomBytes(16).toString('base64');
  const body = Buffer.from(errorPage(status, STATUS_TEXT[status] ?? STATUS_TEXT[400], nonce), 'utf8');
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
