import { composeMail, escapeHtml, htmlDocument, oneLine, wrap, type MailHead } from './mail-mime.ts';
import { mailTime, type MailLocale } from './mail-texts.ts';
import { brandedHead, textsOf, type MailBrand } from './notice.ts';

/*
 * Tells every administrator that the emergency access credential opened the admin console
 * (issue 13, accounts/break-glass.ts): when, from which address, and the reason the person
 * typed. Loud on purpose: a use nobody planned means the sealed envelope was opened.
 */

export interface BreakGlassNoticeInput extends MailHead, MailBrand {
  at: Date;
  ip: string;
  reason: string;
}

const TEXTS: Record<MailLocale, { subject: string; lines(at: string, ip: string, reason: string): string[] }> = {
  en: {
    subject: 'Emergency access to the Sealgate admin console was used',
    lines: (at, ip, reason) => [
      `The emergency access credential opened the admin console on ${at} from ${ip}.`,
      `The reason given: ${reason}`,
      'It works only once: make a new one with sealgate break-glass rotate and seal it again. Every action of that session is in the audit log under #break-glass. If nobody in your organisation did this, treat it as a security incident.',
    ],
  },
  de: {
    subject: 'Der Notfallzugang zur Sealgate-Administrator-Konsole wurde benutzt',
    lines: (at, ip, reason) => [
      `Der Notfallzugang hat die Administrator-Konsole am ${at} von ${ip} aus geöffnet.`,
      `Angegebener Grund: ${reason}`,
      'Er funktioniert nur einmal: Erzeugen Sie mit sealgate break-glass rotate einen neuen und versiegeln Sie ihn wieder. Jede Aktion dieser Sitzung steht im Audit-Protokoll unter #break-glass. Wenn niemand in Ihrer Organisation das war, behandeln Sie es als Sicherheitsvorfall.',
    ],
  },
};

export function buildBreakGlassNotice(input: BreakGlassNoticeInput): Buffer {
  const texts = TEXTS[input.locale ?? 'en'];
  const lines = texts.lines(mailTime(input.at, textsOf(input)), oneLine(input.ip, 64), oneLine(input.reason, 500));
  const text = lines.map((line) => wrap(line)).join('\n\n');
  const html = htmlDocument(texts.subject, lines.map((line) => `<p>${escapeHtml(line)}</p>`), input.locale ?? 'en');
  return composeMail(brandedHead(input), texts.subject, text, html);
}
