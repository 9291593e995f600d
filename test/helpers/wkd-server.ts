/**
 * A Web Key Directory over HTTPS on 127.0.0.1 with a certificate from the test CA for `hosts`:
 * `served` maps `host` + path (no query) to the key bytes; anything else answers 404.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestCa } from './ca.ts';

export interface WkdServer {
  port: number;
  served: Map<string, Buffer>;
  close(): void;
}

export async function startWkdServer(ca: TestCa, hosts: string[]): Promise<WkdServer> {
  const cert = await ca.issue(hosts);
  const served = new Map<string, Buffer>();
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const body = served.get(`${req.headers.host?.split(':')[0]}${req.url?.split('?')[0]}`);
    if (body) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, served, close: () => server.close() };
}
