import type { MAIL_LOCALES } from '../config/index.ts';

/*
 * The words of every mail the gateway writes itself, per language (`branding.locale`). A
 * language added to MAIL_LOCALES (config/branding.ts) fails tsc here until it has every text.
 * Values are plain text; notice.ts escapes them for the HTML part.
 */

export type MailLocale = (typeof MAIL_LOCALES)[number];

export interface MailTexts {
  /** Intl locale of dates in mails. */
  intlLocale: string;
  noticeSubject: string;
  noticeIntro(sender: string): string;
  someone: string;
  openHere: string;
  openButton: string;
  copyLink: string;
  passwordLabel: string;
  passwordHint: string;
  readUntil(expires: string): string;
  neverAsks: string;
  /** The foot line of every mail: who runs this and where. */
  foot(organisation: string, host: string): string;
  codeSubject: string;
  codeIntro: string;
  codeValid(minutes: number): string;
  readSubject: string;
  readOpened(recipient: string, opened: string): string;
  readLog: string;
  replySubject: string;
  replyNotRead: string;
  replyHowTo: string;
  replyOther: string;
  /** The sender's notice of a secure reply (issue 10 item 8): who answered and where to read it, nothing of the reply. */
  secureReplySubject: string;
  secureReplyFrom(recipient: string, at: string): string;
  secureReplyRead: string;
}

export const MAIL_TEXTS: Record<MailLocale, MailTexts> = {
  en: {
    intlLocale: 'en-GB',
    noticeSubject: 'You have a secure message',
    noticeIntro: (sender) => `${sender} has sent you a secure message.`,
    someone: 'Someone',
    openHere: 'Open it here:',
    openButton: 'Open the secure message',
    copyLink: 'Or copy this address into your browser:',
    passwordLabel: 'Message password:',
    passwordHint: 'The link above already holds it; type it in when the page asks for it.',
    readUntil: (expires) => `The message can be read until ${expires}.`,
    neverAsks: 'The portal never asks for the password of your e-mail account or any other password of yours.',
    foot: (organisation, host) => `${organisation} secure mail at ${host}`,
    codeSubject: 'Your one-time code',
    codeIntro: 'Your one-time code for the secure message waiting for you is:',
    codeValid: (minutes) => `It is valid for ${minutes} minutes. If you did not ask for it, ignore this e-mail.`,
    readSubject: 'Your secure message was opened',
    readOpened: (recipient, opened) => `Your secure message to ${recipient} was opened on ${opened}.`,
    readLog: 'The access log in the Sealgate console shows every open, download and reply.',
    replySubject: 'Your e-mail was not delivered: this address only sends notices',
    replyNotRead: 'You wrote to the address that sends notices of secure messages. Nobody reads this address, and your e-mail was not passed on to anyone.',
    replyHowTo: 'To answer the sender securely, open the secure message with the link in the notice and choose "Reply securely" below the message.',
    replyOther: 'You get this explanation at most once a day.',
    secureReplySubject: 'You have a secure reply',
    secureReplyFrom: (recipient, at) => `${recipient} answered your secure message on ${at}.`,
    secureReplyRead: 'Read the reply in the Sealgate console; it is not in this e-mail:',
  },
  de: {
    intlLocale: 'de-DE',
    noticeSubject: 'Sie haben eine sichere Nachricht',
    noticeIntro: (sender) => `${sender} hat Ihnen eine sichere Nachricht geschickt.`,
    someone: 'Jemand',
    openHere: 'Hier öffnen:',
    openButton: 'Sichere Nachricht öffnen',
    copyLink: 'Oder kopieren Sie diese Adresse in Ihren Browser:',
    passwordLabel: 'Kennwort der Nachricht:',
    passwordHint: 'Der Link oben enthält es schon; geben Sie es ein, wenn die Seite danach fragt.',
    readUntil: (expires) => `Die Nachricht kann bis ${expires} gelesen werden.`,
    neverAsks: 'Das Portal fragt nie nach dem Kennwort Ihres E-Mail-Kontos oder einem anderen Ihrer Kennwörter.',
    foot: (organisation, host) => `Sichere E-Mail von ${organisation} über ${host}`,
    codeSubject: 'Ihr Einmalcode',
    codeIntro: 'Ihr Einmalcode für die sichere Nachricht, die auf Sie wartet, lautet:',
    codeValid: (minutes) => `Er gilt ${minutes} Minuten. Wenn Sie ihn nicht angefordert haben, ignorieren Sie diese E-Mail.`,
    readSubject: 'Ihre sichere Nachricht wurde geöffnet',
    readOpened: (recipient, opened) => `Ihre sichere Nachricht an ${recipient} wurde am ${opened} geöffnet.`,
    readLog: 'Das Zugriffsprotokoll in der Sealgate-Konsole zeigt jedes Öffnen, jeden Download und jede Antwort.',
    replySubject: 'Ihre E-Mail wurde nicht zugestellt: diese Adresse versendet nur Benachrichtigungen',
    replyNotRead: 'Sie haben an die Adresse geschrieben, die Benachrichtigungen über sichere Nachrichten versendet. Niemand liest diese Adresse, und Ihre E-Mail wurde an niemanden weitergegeben.',
    replyHowTo: 'Um dem Absender sicher zu antworten, öffnen Sie die sichere Nachricht mit dem Link in der Benachrichtigung und wählen Sie unter der Nachricht „Sicher antworten“.',
    replyOther: 'Sie erhalten diese Erklärung höchstens einmal am Tag.',
    secureReplySubject: 'Sie haben eine sichere Antwort',
    secureReplyFrom: (recipient, at) => `${recipient} hat am ${at} auf Ihre sichere Nachricht geantwortet.`,
    secureReplyRead: 'Lesen Sie die Antwort in der Sealgate-Konsole; sie steht nicht in dieser E-Mail:',
  },
};

const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** A time in a mail: the reader's zone is unknown, so UTC, said so ("2 Dec 2026, 06:10 UTC"). */
export function mailTime(date: Date, texts: MailTexts): string {
  let format = dateFormats.get(texts.intlLocale);
  if (!format) {
    format = new Intl.DateTimeFormat(texts.intlLocale, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' });
    dateFormats.set(texts.intlLocale, format);
  }
  return `${format.format(date)} UTC`;
}
