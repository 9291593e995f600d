import { composeMail, escapeHtml, htmlDocument, oneLine, wrap, type MailHead } from './mail-mime.ts';
import { mailTime, type MailLocale } from './mail-texts.ts';
import { brandedHead, textsOf, type MailBrand } from './notice.ts';

/*
 * Tells the sender that a browser the message was not opened in asked for it with the right
 * message password (issue 10 item 3, pickup/browser-binding.ts): the recipient's own second
 * device, or someone holding a forwarded or intercepted notice. Nothing of the message, not
 * even its subject; at most one an hour per message (gate.ts `newBrowser`).
 */

export interface NewBrowserNoticeInput extends MailHead, MailBrand {
  recipient: string;
  at: Date;
}

const TEXTS: Record<MailLocale, { subject: string; lines(recipient: string, at: string): string[] }> = {
  en: {
    subject: 'Your secure message was asked for from another browser',
    lines: (recipient, at) => [
      `Your secure message to ${recipient} was asked for on ${at} from a browser it had not been opened in before.`,
      'It opens there only with a one-time code we e-mailed to the recipient.',
      'If the recipient did not do this, someone else may have their notice: you can retract the message in the Sealgate console, whose access log shows the address the request came from.',
    ],
  },
  de: {
    subject: 'Ihre sichere Nachricht wurde aus einem anderen Browser angefordert',
    lines: (recipient, at) => [
      `Ihre sichere Nachricht an ${recipient} wurde am ${at} aus einem Browser angefordert, in dem sie noch nicht geöffnet war.`,
      'Dort öffnet sie sich nur mit einem Einmalcode, den wir dem Empfänger per E-Mail geschickt haben.',
      'Wenn das nicht der Empfänger war, hat vielleicht jemand anderes seine Benachrichtigung: Sie können die Nachricht in der Sealgate-Konsole zurückziehen; ihr Zugriffsprotokoll zeigt, von welcher Adresse die Anfrage kam.',
    ],
  },
};

export function buildNewBrowserNotice(input: NewBrowserNoticeInput): Buffer {
  const texts = TEXTS[input.locale ?? 'en'];
  const lines = texts.lines(oneLine(input.recipient), mailTime(input.at, textsOf(input)));
  const text = lines.map((line) => wrap(line)).join('\n\n');
  const html = htmlDocument(texts.subject, lines.map((line) => `<p>${escapeHtml(line)}</p>`), input.locale ?? 'en');
  return composeMail(brandedHead(input), texts.subject, text, html);
}
