import https from 'node:https';
import tls from 'node:tls';
import type { ConfigInput } from '../../src/config/index.ts';
import type { Clock } from '../../src/kernel/index.ts';
import { createWebService, type WebService } from '../../src/web/index.ts';
import { createPortalFixture, type PortalFixture } from './browser.ts';

/** The portal listening on a loopback port (in process), over a fresh SQLite store. */
export async function startPortal(options: { config?: ConfigInput; clock?: Clock; tls?: { key: string; cert: string } } = {}): Promise<{ fixture: PortalFixture; web: WebService; port: number; stop(): Promise<void> }> {
  const fixture = await createPortalFixture({ config: options.config, clock: options.clock });
  const web = createWebService(options.tls ? { ...fixture.deps, tls: options.tls } : fixture.deps);
  await web.start();
  return {
    fixture, web, port: web.listening().port,
    async stop() {
      await web.stop();
      await fixture.cleanup();
    },
  };
}

export function tlsConnect(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Writes `bytes` over a fresh TLS connection and returns every byte the server sent until it closed. */
export async function rawHttps(port: number, bytes: Buffer, timeoutMs = 5_000): Promise<Buffer> {
  const socket = await tlsConnect(port);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.write(bytes);
  });
}

/** Splits a raw HTTP/1.1 response: status, lower-cased headers, body. */
export function parseResponse(raw: Buffer): { status: number; headers: Record<string, string>; body: string } {
  const text = raw.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4) };
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A browser-like HTTPS client over real sockets: keeps cookies, posts forms or raw bodies. */
export function httpsClient(port: number): { cookie(name: string): string | undefined; request(method: 'GET' | 'POST', path: string, body?: { type: string; bytes: Buffer } | Record<string, string>): Promise<HttpsAnswer> } {
  const jar = new Map<string, string>();
  return {
    cookie: (name) => jar.get(name),
    request(method, path, body) {
      const payload = body === undefined ? undefined : 'bytes' in body && Buffer.isBuffer(body.bytes) ? body as { type: string; bytes: Buffer } : { type: 'application/x-www-form-urlencoded', bytes: Buffer.from(new URLSearchParams(body as Record<string, string>).toString()) };
      return new Promise((resolve, reject) => {
        const req = https.request({
          host: '127.0.0.1', port, method, path, rejectUnauthorized: false, agent: false,
          headers: {
            host: `127.0.0.1:${port}`,
            cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
            ...(payload ? { 'content-type': payload.type, 'content-length': String(payload.bytes.length) } : {}),
          },
        }, (res) => {
          for (const line of res.headers['set-cookie'] ?? []) {
            const [pair, ...attributes] = line.split(';');
            const eq = pair.indexOf('=');
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            const expired = attributes.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]).getTime() < Date.now());
            if (value === '' || expired) jar.delete(name);
            else jar.set(name, value);
          }
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('error', reject);
        req.end(payload?.bytes);
      });
    },
  };
}
