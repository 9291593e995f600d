/**
 * One HTTPS GET for discovery (WKD, keyservers): the system CAs plus the configured extra CA
 * files, names resolved through our own Resolver (so tests and `delivery.dnsServers` decide
 * where a host is), no redirects followed, a size cap and a deadline. node:https rather than
 * fetch(): fetch cannot take extra CAs or a lookup function without another dependency.
 */
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { lookupVia, type Resolver } from '../../dns/index.ts';

export interface HttpsAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** GET `url`; resolves with any HTTP status, rejects only when no answer came (network, TLS, timeout, size). */
export type HttpsFetcher = (url: string, options?: { accept?: string }) => Promise<HttpsAnswer>;

export interface HttpsFetcherOptions {
  /** PEM contents of extra CA certificates, trusted beside the system store. */
  extraCa?: Buffer[];
  /** Where names are looked up; the system's resolver when absent. */
  resolver?: Resolver;
  timeoutMs?: number;
  maxBytes?: number;
}

export class FetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FetchError';
  }
}

/** The first address our resolver gives (A before AAAA), for lookupVia. */
function firstAddress(resolver: Resolver) {
  return async (hostname: string): Promise<string> => {
    if (net.isIP(hostname)) return hostname;
    const v4 = await resolver.resolve4(hostname).catch(() => [] as string[]);
    if (v4.length) return v4[0];
    const v6 = await resolver.resolve6(hostname);
    if (!v6.length) throw Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
    return v6[0];
  };
}

export function createHttpsFetcher(options: HttpsFetcherOptions = {}): HttpsFetcher {
  const ca = options.extraCa?.length ? [...tls.rootCertificates.map((pem) => Buffer.from(pem)), ...options.extraCa] : undefined;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const lookup = options.resolver ? lookupVia(firstAddress(options.resolver)) : undefined;
  return (url, { accept = '*/*' } = {}) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== 'https:') {
        reject(new FetchError(`${url}: only https is used for key discovery`));
        return;
      }
      let settled = false;
      const finish = (error: string | undefined, answer?: HttpsAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined) resolve(answer as HttpsAnswer);
        else {
          request.destroy();
          reject(new FetchError(`${target.host}: ${error}`));
        }
      };
      const request = https.request(
        { host: target.hostname, port: target.port || 443, path: `${target.pathname}${target.search}`, method: 'GET', servername: net.isIP(target.hostname) ? undefined : target.hostname, ca, rejectUnauthorized: true, agent: false, lookup, headers: { accept } },
        (response) => {
          const chunks: Buffer[] = [];
          let length = 0;
          response.on('data', (chunk: Buffer) => {
            length += chunk.length;
            if (length > maxBytes) finish(`the answer is larger than ${maxBytes} bytes`);
            else chunks.push(chunk);
          });
          response.on('end', () => finish(undefined, { status: response.statusCode ?? 0, contentType: String(response.headers['content-type'] ?? ''), body: Buffer.concat(chunks, length) }));
          response.on('error', (error) => finish(`the answer broke off (${error.message})`));
        },
      );
      request.on('error', (error) => finish(error.message));
      const timer = setTimeout(() => finish(`no complete answer within ${timeoutMs} ms`), timeoutMs);
      request.end();
    });
}
