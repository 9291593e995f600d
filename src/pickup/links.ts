import type { Config } from '../config/index.ts';
import { makeMessageId } from '../mail/index.ts';
import { buildNotice } from './notice.ts';

/** The base URL notice links start with: web.publicUrl, else https://<hostname>:<port>. */
export function publicBaseUrl(config: Config, port = config.web.port): string {
  return (config.web.publicUrl ?? `https://${config.hostname}:${port}`).replace(/\/+$/, '');
}

/** The link a notice carries: the message password rides in the fragment, which browsers never send. */
export function pickupLink(baseUrl: string, id: string, messagePassword: string): string {
  return `${baseUrl}/m/${encodeURIComponent(id)}#${encodeURIComponent(messagePassword)}`;
}

/** The notice for one pickup, as the site's config says (sender, portal address, subject, expiry). */
export function buildPickupNotice(config: Config, input: { id: string; messagePassword: string; recipient: string; sender: string; expiresInDays: number; now: number }): Buffer {
  return buildNotice({
    from: `postmaster@${config.hostname}`,
    to: input.recipient,
    link: pickupLink(publicBaseUrl(config), input.id, input.messagePassword),
    messagePassword: input.messagePassword,
    senderDisplay: input.sender,
    expiresAt: new Date(input.now + input.expiresInDays * 86_400_000),
    subject: config.pickup.noticeSubject,
    messageId: makeMessageId(config.hostname),
    date: new Date(input.now),
    hostname: config.hostname,
  });
}
