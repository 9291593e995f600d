import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

/** Cookies as a browser keeps them, for fastify.inject. */
export class Jar {
  private readonly cookies = new Map<string, string>();
  take(response: LightMyRequestResponse): void {
    for (const cookie of response.cookies) {
      if (cookie.value === '' || (cookie.expires && cookie.expires.getTime() < Date.now())) this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export interface Upload {
  /** Form field name; default `files`. */
  name?: string;
  filename: string;
  type: string;
  content: Buffer;
}

/** A multipart/form-data body with the fields first, as the portal's forms send them. */
export function multipart(fields: [string, string][], files: Upload[]): { body: Buffer; type: string } {
  const boundary = `----sg${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of fields) chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  for (const file of files) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name ?? 'files'}"; filename="${file.filename}"\r\nContent-Type: ${file.type}\r\n\r\n`), file.content, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

/** A form field with several values (checkboxes) is sent once per value, as a browser does. */
export type InjectRequest = (method: 'GET' | 'POST', url: string, form?: Record<string, string | string[]>, extra?: { headers?: Record<string, string>; payload?: Buffer }) => Promise<LightMyRequestResponse>;

/** A browser-like client: cookies kept across requests, forms url-encoded. */
export function injectClient(app: FastifyInstance): { jar: Jar; request: InjectRequest } {
  const jar = new Jar();
  const request: InjectRequest = async (method, url, form, extra = {}) => {
    const response = await app.inject({
      method,
      url,
      headers: { cookie: jar.header(), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...extra.headers },
      payload: form ? new URLSearchParams(Object.entries(form).flatMap(([k, v]) => [v].flat().map((one) => [k, one]))).toString() : extra.payload,
    });
    jar.take(response);
    return response;
  };
  return { jar, request };
}

/** A client signed in on the admin or sender console's form (no second factor); `response` is the login's answer. */
export async function signedInClient(app: FastifyInstance, area: 'admin' | 'console', username: string, password: string) {
  const client = injectClient(app);
  await client.request('GET', `/${area}/login`);
  const csrf = client.jar.get('__Host-sg-csrf')!;
  const response = await client.request('POST', `/${area}/login`, { _csrf: csrf, username, password });
  return { ...client, csrf, response };
}
