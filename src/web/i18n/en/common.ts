/*
 * English texts of the shared pieces: the page frame (layout.ts), error pages (errors.ts,
 * app.ts) and the start page. English is the complete catalogue: every other language must
 * have each key (de/common.ts fails tsc otherwise). Plain text only, no markup: parameters
 * are `{name}`, plurals `{ one, other }` chosen by `{count}`.
 */
export const commonTexts = {
  'layout.brand': 'Sealgate',
  'layout.languages': 'Language',
  'time.none': '—',
  'layout.idle.warning': 'You will be signed out in about a minute because nothing happened on this page for a while.',
  'layout.idle.stay': 'Stay signed in',

  'home.title': 'Secure messages',
  'home.heading': 'Secure Message Pickup',
  'home.text': 'To read a secure message, open the link in the notice e-mail you received.',
  'home.console': 'Sender console',

  'error.title.notFound': 'Page not found',
  'error.title.other': 'Error',
  'error.heading.notFound': 'Page not found',
  'error.heading.400': 'Request not understood',
  'error.heading.403': 'Not allowed',
  'error.heading.405': 'Not allowed here',
  'error.heading.408': 'Request timed out',
  'error.heading.413': 'Upload too large',
  'error.heading.414': 'Address too long',
  'error.heading.415': 'Upload not accepted',
  'error.heading.429': 'Too many requests',
  'error.heading.431': 'Request too large',
  'error.heading.server': 'Something went wrong',
  'error.heading.client': 'Request refused',
  'error.400': 'The request was not understood. Go back and try again.',
  'error.403': 'This is not allowed.',
  'error.404': 'There is no such page. Check the address.',
  'error.405': 'This page does not take that kind of request.',
  'error.408': 'The request took too long to arrive. Try again.',
  'error.413': 'The upload is too large.',
  'error.413.limit': 'The upload is too large: at most {mb} MB in all.',
  'error.414': 'The address is too long. Check the link.',
  'error.415': 'This kind of upload is not accepted here.',
  'error.429': 'Too many requests. Wait a minute and try again.',
  'error.431': 'The request carried too much header data. Clear this site’s cookies and try again.',
  'error.500': 'Something went wrong on our side. Try again in a minute; if it keeps happening, tell the sender.',
  'error.csrf': 'This form has expired or did not come from this site. Go back, reload the page and send it again.',
} as const;
