import type { Translation } from '../format.ts';
import type { commonTexts as en } from '../en/common.ts';

export const commonTexts = {
  'layout.brand': 'Sealgate',
  'layout.languages': 'Sprache',
  'time.none': '—',
  'layout.idle.warning': 'Sie werden in etwa einer Minute abgemeldet, weil auf dieser Seite eine Weile nichts geschehen ist.',
  'layout.idle.stay': 'Angemeldet bleiben',

  'home.title': 'Sichere Nachrichten',
  'home.heading': 'Sichere Nachrichten abholen',
  'home.text': 'Um eine sichere Nachricht zu lesen, öffnen Sie den Link in der Benachrichtigung, die Sie per E-Mail erhalten haben.',
  'home.console': 'Konsole für Absender',

  'error.title.notFound': 'Nicht gefunden',
  'error.title.other': 'Fehler',
  'error.heading.notFound': 'Nicht gefunden',
  'error.heading.server': 'Etwas ist schiefgegangen',
  'error.heading.client': 'Nicht ausgeführt',
  'error.400': 'Die Anfrage wurde nicht verstanden. Gehen Sie zurück und versuchen Sie es erneut.',
  'error.403': 'Das ist nicht erlaubt.',
  'error.404': 'Diese Seite gibt es nicht. Prüfen Sie die Adresse.',
  'error.405': 'Diese Seite nimmt diese Art von Anfrage nicht an.',
  'error.408': 'Die Anfrage kam zu langsam an. Versuchen Sie es erneut.',
  'error.413': 'Der Upload ist zu groß.',
  'error.413.limit': 'Der Upload ist zu groß: höchstens {mb} MB insgesamt.',
  'error.414': 'Die Adresse ist zu lang. Prüfen Sie den Link.',
  'error.415': 'Diese Art von Upload wird hier nicht angenommen.',
  'error.429': 'Zu viele Anfragen. Warten Sie eine Minute und versuchen Sie es erneut.',
  'error.431': 'Die Anfrage enthielt zu viele Kopfdaten. Löschen Sie die Cookies dieser Website und versuchen Sie es erneut.',
  'error.500': 'Bei uns ist etwas schiefgegangen. Versuchen Sie es in einer Minute erneut; wenn es wieder passiert, sagen Sie es dem Absender.',
  'error.csrf': 'Dieses Formular ist abgelaufen oder kam nicht von dieser Website. Gehen Sie zurück, laden Sie die Seite neu und senden Sie es noch einmal.',
} as const satisfies Translation<typeof en>;
