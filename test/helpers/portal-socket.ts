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
