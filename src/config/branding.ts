import { z } from 'zod';

/** A plain `local@domain` address, no name or angle brackets. */
const PLAIN_ADDRESS = /^[^\s<>@"(),:;\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

/** One line a person reads: no control characters (they would break a header or a page line). */
const line = (max: number) => z.string().trim().min(1).max(max).refine((text) => !/[\u0000-\u001f\u007f]/.test(text), 'must be one line without control characters');

/** The languages the gateway writes its own mails in (pickup/mail-texts.ts has a text for each). */
export const MAIL_LOCALES = ['en', 'de'] as const;

/**
 * How the portal and the gateway's own mails present the organisation. The logo is PNG or
 * JPEG only: an SVG is a document that can carry script and fetch other URLs, and served
 * from the portal's origin it would need its own sandbox to be harmless; a raster image
 * cannot run anything (checked by its first bytes at start, not by the name alone).
 */
export const brandingSchema = z
  .strictObject({
    organisation: line(80).optional().describe('Your organisation\'s name: at the top of every portal page and in its title, as the display name of notices and code mails, and at their foot. Default: Sealgate.'),
    logoFile: z
      .string()
      .refine((path) => /\.(png|jpe?g)$/i.test(path), 'must name a .png or .jpg file (SVG is not accepted: it can carry script)')
      .optional()
      .describe('A PNG or JPEG file (at most 256 kB) shown beside the organisation\'s name on every portal page, served at /static/logo with a day of cache. Not put into mails: a picture there proves nothing and mail clients block it.'),
    contact: line(200).optional().describe('A line telling recipients how to reach you another way (e.g. `Questions? Call 030 1234 567.`): at the foot of every portal page, every notice and the answer to a reply to a notice.'),
    noticeSubject: line(200).optional().describe('Subject of the notice e-mail; default `pickup.noticeSubject` ("You have a secure message" in the mail language). Keep it neutral: nothing of the message itself.'),
    noticeIntro: line(500).optional().describe('First sentence of the notice instead of "<sender> has sent you a secure message." `{sender}` and `{organisation}` are replaced.'),
    noticeFrom: z
      .string()
      .refine((address) => PLAIN_ADDRESS.test(address), 'must be a plain address, local@domain, without name or angle brackets')
      .optional()
      .describe('Address notices, code mails and read notices come from; default `notices@<hostname>`. The inbound listener takes mail to it and answers each sender once a day with how to reply securely (RFC 3834 auto-reply), so its domain\'s MX should reach the gateway.'),
    locale: z.enum(MAIL_LOCALES).default('en').describe('Language of the mails the gateway writes itself: notices, one-time codes, read notices and the answer to a reply to a notice. Portal pages follow each browser.'),
  })
  .prefault({})
  .describe('Branding: your organisation\'s name, logo and contact line in the portal and in the mails the gateway writes, and where those mails come from.');

export type BrandingConfig = z.infer<typeof brandingSchema>;

/** The address the gateway's own mails come from (and which answers replies to them). */
export const noticeAddress = (config: { hostname: string; branding: { noticeFrom?: string } }): string => config.branding.noticeFrom ?? `notices@${config.hostname}`;
