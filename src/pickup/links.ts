import { noticeAddress, type Config } from '../config/index.ts';
import { makeMessageId } from '../mail/index.ts';
import { buildNotice, NOTICE_SUBJECT, type MailBrand } from './notice.ts';

/** The base URL notice links start with: web.publicUrl, else https://<hostname>:<port>. */
export function publicBaseUrl(config: Config, port = config.web.port): string {
  return (config.web.publicUrl ?? `https://${config.hostname}:${port}`).replace(/\/+$/, '');
}

/** The link a notice carries: the message password rides in the fragment, which browsers never send. */
export function pickupLink(baseUrl: string, id: string, messagePassword: string): string {
  return `${baseUrl}/m/${encodeURIComponent(id)}#${encodeURIComponent(messagePassword)}`;
}

/** The organisation, contact line and language of the gateway's own mails (`branding.*`). */
export const mailBrand = (config: Config): MailBrand => ({ organisation: config.branding.organisation, contact: config.branding.contact, locale: config.branding.locale });

/** The notice for one pickup, as the site's config says (sender, portal address, subject, expiry). */
export function buildPickupNotice(config: Config, input: { id: string; messagePassword: string; recipient: string; sender: string; expiresInDays: number; now: number }): Buffer {
  return buildNotice({
    from: noticeAddress(config),
    to: input.recipient,
    link: pickupLink(publicBaseUrl(config), input.id, input.messagePassword),
    messagePassword: input.messagePassword,
    senderDisplay: input.sender,
    expiresAt: new Date(input.now + input.expiresInDays * 86_400_000),
    // pickup.noticeSubject is the older key: it counts only when changed from its (English) default.
    subject: config.branding.noticeSubject ?? (config.pickup.noticeSubject !== NOTICE_SUBJECT ? config.pickup.noticeSubject : undefined),
    intro: config.branding.noticeIntro,
    ...mailBrand(config),
    messageId: makeMessageId(config.hostname),
    date: new Date(input.now),
    hostname: config.hostname,
  });
}
