import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResponse, rawHttps, startPortal } from '../helpers/portal-socket.ts';

/*
 * Issue 9 item 15, one answer the first fix missed: an HTTP/1.1 request without a Host header
 * is refused by Node's HTTP server itself (RFC 9112 §3.2 says 400), before Fastify or any hook
 * runs, so the 400 went out with no security headers and an empty chunked body. It must be the
 * same HTML error page, with the headers, as every other answer.
 */

const HEADERS = ['strict-transport-security', 'content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options', 'cross-origin-opener-policy', 'cache-control'];

describe('a request without Host gets the security headers and an HTML 400 page', () => {
  let portal: Awaited<ReturnType<typeof startPortal>>;
  beforeAll(async () => {
    portal = await startPortal();
  });
  afterAll(async () => {
    await portal?.stop();
  });

  it('GET /EchoMarker HTTP/1.1 without Host: 400 with the headers', async () => {
    const response = parseResponse(await rawHttps(portal.port, Buffer.from('GET /console/EchoMarker HTTP/1.1\r\nConnection: close\r\n\r\n', 'latin1')));
    expect(response.status).toBe(400);
    for (const name of HEADERS) expect(response.headers[name], name).toBeTruthy();
    expect(response.headers['content-security-policy']).toContain("default-src 'none'");
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toMatch(/^<!doctype html>/);
    expect(response.body).not.toContain('EchoMarker');
  });

  it('HTTP/1.0 without Host is still served (Host is an HTTP/1.1 requirement)', async () => {
    const response = parseResponse(await rawHttps(portal.port, Buffer.from('GET / HTTP/1.0\r\n\r\n', 'latin1')));
    expect(response.status).toBe(200);
    expect(response.headers['x-frame-options']).toBe('DENY');
  });
});
