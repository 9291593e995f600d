import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { createTestCa, type TestCa } from './ca.ts';
import { freePort, tempDir } from './ports.ts';

/** What the server answers for one domain: a policy text (200, text/plain) or a full answer. */
export type PolicyAnswer = string | { status: number; body?: string; contentType?: string; redirect?: string };

export interface PolicyServerOptions {
  /** Keyed by policy domain: the server answers for `mta-sts.<domain>`. */
  policies: Record<string, PolicyAnswer>;
  /** Names for the server certificate; default every `mta-sts.<domain>` in `policies`. */
  certNames?: string[];
  /** Share a CA between servers; default a fresh one per server. */
  ca?: TestCa;
}

export interface PolicyRequest {
  host: string;
  servername: string | null;
  path: string;
}

export interface PolicyServer {
  port: number;
  caPem: string;
  /** Every request received, in order (tests count them to prove a cache hit). */
  requests: PolicyRequest[];
  setPolicy(domain: string, answer: PolicyAnswer): void;
  stop(): Promise<void>;
}

const POLICY_PATH = '/.well-known/mta-sts.txt';

/**
 * An HTTPS MTA-STS policy host on 127.0.0.1 with a certificate from the test CA; it routes by
 * SNI (or the Host header when SNI is absent) and serves `/.well-known/mta-sts.txt`.
 */
export async function startPolicyServer(options: PolicyServerOptions): Promise<PolicyServer> {
  const policies = new Map(Object.entries(options.policies).map(([d, a]) => [d.toLowerCase(), a]));
  const names = options.certNames ?? [...policies.keys()].map((d) => `mta-sts.${d}`);
  if (names.length === 0) throw new Error('startPolicyServer needs at least one domain or certName for its certificate');
  const temp = tempDir('policy-ca');
  const ca = options.ca ?? (await createTestCa(temp.dir));
  const cert = await ca.issue(names);
  const requests: PolicyRequest[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const servername = (req.socket as TLSSocket).servername || null;
    const host = (servername ?? req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const path = req.url ?? '/';
    requests.push({ host, servername, path });
    const answer = host.startsWith('mta-sts.') ? policies.get(host.slice('mta-sts.'.length)) : undefined;
    if (path !== POLICY_PATH || answer === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no policy for ${host}${path}\n`);
      return;
    }
    const full = typeof answer === 'string' ? { status: 200, body: answer } : answer;
    const headers: Record<string, string> = { 'content-type': full.contentType ?? 'text/plain' };
    if (full.redirect) headers.location = full.redirect;
    res.writeHead(full.status, headers).end(full.body ?? '');
  };

  const port = await freePort();
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

  return {
    port,
    caPem: ca.caCertPem,
    requests,
    setPolicy(domain, answer) {
      policies.set(domain.toLowerCase(), answer);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      temp.cleanup();
    },
  };
}
