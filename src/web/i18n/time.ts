import { html, type Html } from '../html.ts';

/*
 * Every timestamp a page shows is a `<time datetime="ISO">` whose text is readable on its own
 * ("2 Dec 2026, 06:10 UTC", for a browser without script), and PAGE_SCRIPT (run under
 * the page's nonce by layout.ts) rewrites it into the viewer's own time zone with
 * Intl.DateTimeFormat. The server never guesses the viewer's zone.
 */

/** The Intl locale each page language formats dates with (en-GB: day month year, 24 h). */
export const INTL_LOCALE = { en: 'en-GB', de: 'de-DE' } as const;

const PARTS: Intl.DateTimeFormatOptions = { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
const utcFormats = new Map<string, Intl.DateTimeFormat>();

/** The server-side text of a time: in UTC, said so. */
export function utcText(ms: number, intlLocale: string): string {
  let format = utcFormats.get(intlLocale);
  if (!format) {
    format = new Intl.DateTimeFormat(intlLocale, { ...PARTS, timeZone: 'UTC' });
    utcFormats.set(intlLocale, format);
  }
  return `${format.format(ms)} UTC`;
}

/** A `<time>` element the page script shows in the viewer's zone; `none` for a time that is not there. */
export function timeElement(ms: number | null | undefined, intlLocale: string, none = '—'): Html {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return html`${none}`;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}" data-local-time>${utcText(ms, intlLocale)}</time>`;
}

/**
 * Rewrites each `<time data-local-time>` in the browser's zone, in the page's date language
 * (`<html data-intl-locale>`); the UTC text stays as the tooltip. Also carries the message
 * password in the address fragment across a language switch (the fragment is never sent).
 */
export const PAGE_SCRIPT = `(function () {
  var root = document.documentElement, locale = root.getAttribute('data-intl-locale') || undefined, format;
  try { format = new Intl.DateTimeFormat(locale, ${JSON.stringify({ ...PARTS, timeZoneName: 'short' })}); } catch (e) { return; }
  document.querySelectorAll('time[data-local-time]').forEach(function (el) {
    var when = new Date(el.getAttribute('datetime'));
    if (isNaN(when.getTime())) return;
    el.title = el.textContent;
    el.textContent = format.format(when);
    el.setAttribute('data-local-time', 'shown');
  });
  document.querySelectorAll('a[data-keep-hash]').forEach(function (link) {
    link.addEventListener('click', function () { if (location.hash) link.href = link.getAttribute('href') + location.hash; });
  });
})();`;
