import { composeMail, escapeHtml, htmlDocument, oneLine, wrap, type MailHead } from './mail-mime.ts';
import { MAIL_TEXTS, mailTime, type MailLocale, type MailTexts } from './mail-texts.ts';

/*
 * The e-mails Secure Message Pickup sends itself: the notice to the recipient, the one-time
 * code, the read notice to the sender. None carries anything of the secured message, not even
 * its subject. Each is multipart/alternative (text and HTML, UTF-8, quoted-printable) and
 * marked Auto-Submitted so vacation responders stay quiet. Words from mail-texts.ts in the
 * configured language; the organisation's name and contact line from `branding.*`.
 */

export const NOTICE_SUBJECT = MAIL_TEXTS.en.noticeSubject;

/** How the organisation presents itself in a mail (`branding.*`). */
export interface MailBrand {
  /** Shown as the display name of `from` (unless `fromName`) and at the foot; default `Sealgate`. */
  organisation?: string;
  /** A line on how to reach the organisation another way, above the foot. */
  contact?: string;
  /** Language of the mail; default English. */
  locale?: MailLocale;
}

export interface NoticeInput extends MailHead, MailBrand {
  /** The full https link with the message password in the fragment (`pickupLink`). */
  link: string;
  messagePassword: string;
  /** Who sent it, as the recipient should recognise it: usually the sender's address. */
  senderDisplay: string;
  expiresAt: Date;
  /** Default neutral: `You have a secure message`. Never the secured message's subject. */
  subject?: string;
  /** First sentence instead of "<sender> has sent you a secure message."; `{sender}` and `{organisation}` replaced. */
  intro?: string;
  /** The gateway's name, shown at the foot. */
  hostname: string;
}

export interface CodeMailInput extends MailHead, MailBrand {
  code: string;
  validMinutes?: number;
}

export interface ReadNoticeInput extends MailHead, MailBrand {
  recipient: string;
  openedAt: Date;
}

const DEFAULT_ORGANISATION = 'Sealgate';

export const textsOf = (brand: MailBrand): MailTexts => MAIL_TEXTS[brand.locale ?? 'en'];
export const organisationOf = (brand: MailBrand): string => oneLine(brand.organisation ?? '') || DEFAULT_ORGANISATION;

/** The head with the organisation as the display name when the caller named none. */
export const brandedHead = (input: MailHead & MailBrand): MailHead => ({ ...input, fromName: input.fromName ?? organisationOf(input) });

/** The contact line and the foot, as text lines and as HTML paragraphs. */
export function footOf(brand: MailBrand, host: string): { text: string[]; html: string[] } {
  const texts = textsOf(brand);
  const contact = brand.contact ? oneLine(brand.contact, 200) : '';
  const foot = texts.foot(organisationOf(brand), oneLine(host));
  return {
    text: [...(contact ? [wrap(contact), ''] : []), '-- ', foot],
    html: [...(contact ? [`<p>${escapeHtml(contact)}</p>`] : []), `<p style="font-size:12px;color:#595959">${escapeHtml(foot)}</p>`],
  };
}

/** The notice that a secure message waits: the link, the password to type, the expiry. */
export function buildNotice(input: NoticeInput): Buffer {
  const url = new URL(input.link);
  if (url.protocol !== 'https:' || !url.hash) throw new Error('the notice link must be an https link with the message password in its fragment (use pickupLink with web.publicUrl)');
  const texts = textsOf(input);
  const sender = oneLine(input.senderDisplay) || texts.someone;
  const organisation = organisationOf(input);
  const intro = input.intro
    ? oneLine(input.intro.replaceAll('{sender}', sender).replaceAll('{organisation}', organisation), 600)
    : texts.noticeIntro(sender);
  const expires = mailTime(input.expiresAt, texts);
  const password = oneLine(input.messagePassword);
  const foot = footOf(input, input.hostname);
  const subject = input.subject ?? texts.noticeSubject;
  const text = [
    wrap(intro),
    '',
    texts.openHere,
    input.link,
    '',
    texts.passwordLabel,
    `    ${password}`,
    wrap(texts.passwordHint),
    '',
    wrap(texts.readUntil(expires)),
    '',
    wrap(texts.neverAsks),
    '',
    ...foot.text,
  ].join('\n');
  // The sender's name is the one part of the intro a stranger chose: bold only where we put it.
  const introHtml = input.intro ? escapeHtml(intro) : escapeHtml(intro).replace(escapeHtml(sender), `<strong>${escapeHtml(sender)}</strong>`);
  const html = htmlDocument(subject, [
    `<p>${introHtml}</p>`,
    `<p><a href="${escapeHtml(input.link)}" style="display:inline-block;padding:10px 18px;background:#1d4ed8;color:#ffffff;text-decoration:none;border-radius:4px">${escapeHtml(texts.openButton)}</a></p>`,
    `<p style="font-size:13px;color:#555555">${escapeHtml(texts.copyLink)}<br>${escapeHtml(input.link)}</p>`,
    `<p>${escapeHtml(texts.passwordLabel)}<br><code style="font-size:18px;letter-spacing:1px">${escapeHtml(password)}</code><br>`,
    `<span style="font-size:13px;color:#555555">${escapeHtml(texts.passwordHint)}</span></p>`,
    `<p>${escapeHtml(texts.readUntil(expires))}</p>`,
    `<p>${escapeHtml(texts.neverAsks)}</p>`,
    ...foot.html,
  ], input.locale ?? 'en');
  return composeMail(brandedHead(input), subject, text, html);
}

/** The one-time code a recipient asked for. The code stands alone on an indented line. */
export function buildCodeMail(input: CodeMailInput): Buffer {
  const texts = textsOf(input);
  const code = oneLine(input.code);
  const minutes = input.validMinutes ?? 10;
  const text = [
    wrap(texts.codeIntro),
    '',
    `    ${code}`,
    '',
    wrap(texts.codeValid(minutes)),
  ].join('\n');
  const html = htmlDocument(texts.codeSubject, [
    `<p>${escapeHtml(texts.codeIntro)}</p>`,
    `<p><code style="font-size:22px;letter-spacing:3px">${escapeHtml(code)}</code></p>`,
    `<p>${escapeHtml(texts.codeValid(minutes))}</p>`,
  ], input.locale ?? 'en');
  return composeMail(brandedHead(input), texts.codeSubject, text, html);
}

/** Tells the sender the recipient opened the message (on the first open only). */
export function buildReadNotice(input: ReadNoticeInput): Buffer {
  const texts = textsOf(input);
  const recipient = oneLine(input.recipient);
  const opened = texts.readOpened(recipient, mailTime(input.openedAt, texts));
  const text = [wrap(opened), '', wrap(texts.readLog)].join('\n');
  const html = htmlDocument(texts.readSubject, [
    `<p>${escapeHtml(opened).replace(escapeHtml(recipient), `<strong>${escapeHtml(recipient)}</strong>`)}</p>`,
    `<p>${escapeHtml(texts.readLog)}</p>`,
  ], input.locale ?? 'en');
  return composeMail(brandedHead(input), texts.readSubject, text, html);
}

export interface ReplyNoticeInput extends MailHead, MailBrand {
  recipient: string;
  repliedAt: Date;
  /** Where the sender reads it: the console page of the answered message. */
  consoleUrl: string;
}

/** Tells the sender a secure reply waits (issue 10 item 8); nothing of the reply, not even its subject. */
export function buildReplyNotice(input: ReplyNoticeInput): Buffer {
  const texts = textsOf(input);
  const recipient = oneLine(input.recipient);
  const from = texts.secureReplyFrom(recipient, mailTime(input.repliedAt, texts));
  const text = [wrap(from), '', wrap(texts.secureReplyRead), input.consoleUrl].join('\n');
  const html = htmlDocument(texts.secureReplySubject, [
    `<p>${escapeHtml(from).replace(escapeHtml(recipient), `<strong>${escapeHtml(recipient)}</strong>`)}</p>`,
    `<p>${escapeHtml(texts.secureReplyRead)} <a href="${escapeHtml(input.consoleUrl)}">${escapeHtml(input.consoleUrl)}</a></p>`,
  ], input.locale ?? 'en');
  return composeMail(brandedHead(input), texts.secureReplySubject, text, html);
}

export { quotedPrintable } from './mail-mime.ts';
