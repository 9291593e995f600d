import https from 'node:https';

/*
 * A browser stand-in for attack tests over real HTTPS: binds the client end to a chosen
 * loopback address (127.0.0.x), so one test can be many clients, and keeps cookies.
 */

export interface HttpsAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export class HttpsClient {
  readonly cookies = new Map<string, string>();
  private readonly port: number;

  constructor(port: number) {
    this.port = port;
  }

  request(method: 'GET' | 'POST', path: string, options: { form?: Record<string, string>; localAddress?: string } = {}): Promise<HttpsAnswer> {
    const payload = options.form ? Buffer.from(new URLSearchParams(options.form).toString()) : undefined;
    const headers: Record<string, string> = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    if (payload) Object.assign(headers, { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(payload.length) });
    return new Promise((resolve, reject) => {
      const request = https.request(
        { host: '127.0.0.1', port: this.port, method, path, headers, rejectUnauthorized: false, agent: false, ...(options.localAddress ? { localAddress: options.localAddress } : {}) },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            for (const cookie of ([] as string[]).concat(response.headers['set-cookie'] ?? [])) {
              const [pair] = cookie.split(';');
              const index = pair.indexOf('=');
              const value = pair.slice(index + 1);
              if (value === '') this.cookies.delete(pair.slice(0, index));
              else this.cookies.set(pair.slice(0, index), value);
            }
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: response.headers });
          });
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  /** The CSRF token the page's forms carry. */
  static csrfOf(body: string): string {
    const token = body.match(/name="_csrf" value="([^"]+)"/)?.[1];
    if (!token) throw new Error('no CSRF field on the page');
    return token;
  }
}
