import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResponse, rawHttps, startPortal } from '../helpers/portal-socket.ts';

/*
 * Issue 9 item 15: errors raised by the framework or by Node's HTTP parser (a URL that does not
 * decode, 20 kB of headers, an unknown page, an oversized or unknown body) answered JSON that
 * quoted the path, with none of the security headers. Every answer must carry them and be an
 * HTML page that does not echo the request.
 */

const HEADERS = ['strict-transport-security', 'content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options', 'cross-origin-opener-policy', 'cache-control'];

describe('framework-level errors carry the security headers and an HTML page', () => {
  let portal: Awaited<ReturnType<typeof startPortal>>;
  beforeAll(async () => {
    portal = await startPortal();
  });
  afterAll(async () => {
    await portal?.stop();
  });

  const request = (head: string, body = Buffer.alloc(0)) => rawHttps(portal.port, Buffer.concat([Buffer.from(head, 'latin1'), body]));

  function expectSafe(raw: Buffer, status: number, marker: string) {
    const response = parseResponse(raw);
    expect(response.status).toBe(status);
    for (const name of HEADERS) expect(response.headers[name], name).toBeTruthy();
    expect(response.headers['content-security-policy']).toContain("default-src 'none'");
    expect(response.headers['x-frame-options']).toBe('DENY');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toMatch(/^<!doctype html>/);
    expect(response.body).not.toContain(marker);
    expect(response.body).not.toContain('"statusCode"');
  }

  it('a URL with %zz: 400', async () => {
    expectSafe(await request('GET /m/%zzEchoMarker HTTP/1.1\r\nHost: portal.test\r\nConnection: close\r\n\r\n'), 400, 'EchoMarker');
  });

  it('a 20 kB header: 431 written raw by the parser handler', async () => {
    expectSafe(await request(`GET /EchoMarker HTTP/1.1\r\nHost: portal.test\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`), 431, 'EchoMarker');
  });

  it('a broken request line: 400 written raw', async () => {
    expectSafe(await request('GET /EchoMarker\x01 HTTP/1.1\r\nHost: portal.test\r\n\r\n'), 400, 'EchoMarker');
  });

  it('an unknown page: 404', async () => {
    expectSafe(await request('GET /no/EchoMarker HTTP/1.1\r\nHost: portal.test\r\nConnection: close\r\n\r\n'), 404, 'EchoMarker');
  });

  it('a form body over the limit: 413', async () => {
    const body = Buffer.alloc(70 * 1024, 0x61);
    expectSafe(await request(`POST /console/login HTTP/1.1\r\nHost: portal.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, body), 413, 'EchoMarker');
  });

  it('an unknown body type: 415', async () => {
    const body = Buffer.from('{"EchoMarker":1}');
    expectSafe(await request(`POST /console/login HTTP/1.1\r\nHost: portal.test\r\nContent-Type: application/x-echomarker\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, body), 415, 'EchoMarker');
  });
});
