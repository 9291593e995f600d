import type { Config } from '../config/index.ts';

/** The base URL notice links start with: web.publicUrl, else https://<hostname>:<port>. */
export function publicBaseUrl(config: Config, port = config.web.port): string {
  return (config.web.publicUrl ?? `https://${config.hostname}:${port}`).replace(/\/+$/, '');
}

/** The link a notice carries: the message password rides in the fragment, which browsers never send. */
export function pickupLink(baseUrl: string, id: string, messagePassword: string): string {
  return `${baseUrl}/m/${encodeURIComponent(id)}#${encodeURIComponent(messagePassword)}`;
}
