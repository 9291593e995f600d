import { describe, expect, it } from 'vitest';
import { html, trusted } from '../html.ts';
import { formatHtml, formatText, placeholdersOf } from './format.ts';
import { catalogues, fromAcceptLanguage, LOCALES, negotiateLocale, timeElement, translator, utcText } from './index.ts';

describe('locale negotiation', () => {
  it.each([
    ['de', 'de'],
    ['de-CH, en;q=0.5', 'de'],
    ['fr-FR, fr;q=0.9, de;q=0.8, en;q=0.7', 'de'],
    ['en;q=0.4, de;q=0.9', 'de'],
    ['de;q=0.5, en;q=0.5', 'de'], // equal weights: the order the browser gave
    ['en-US,en;q=0.9', 'en'],
    ['fr, *;q=0.1', 'en'],
    ['*, en;q=0', 'de'], // q=0 refuses English, even for *
    ['DE-at', 'de'],
  ])('Accept-Language %j → %s', (header, locale) => {
    expect(fromAcceptLanguage(header)).toBe(locale);
  });

  it.each([undefined, '', 'fr, it;q=0.8', 'de;q=0', 'de;q=2, xx', 'de;q=abc', '<script>'])('nothing acceptable in %j', (header) => {
    expect(fromAcceptLanguage(header)).toBeUndefined();
  });

  it('an explicit ?lang= wins and is remembered; the cookie beats the header; English is the default', () => {
    expect(negotiateLocale({ query: 'de', acceptLanguage: 'en' })).toEqual({ locale: 'de', remember: 'de' });
    expect(negotiateLocale({ query: 'de', cookie: 'de' })).toEqual({ locale: 'de', remember: undefined });
    expect(negotiateLocale({ query: 'xx', cookie: 'de', acceptLanguage: 'en' })).toEqual({ locale: 'de' });
    expect(negotiateLocale({ query: ['de', 'en'], acceptLanguage: 'en' })).toEqual({ locale: 'en' });
    expect(negotiateLocale({ cookie: 'de', acceptLanguage: 'en' })).toEqual({ locale: 'de' });
    expect(negotiateLocale({ acceptLanguage: 'de-DE' })).toEqual({ locale: 'de' });
    expect(negotiateLocale({})).toEqual({ locale: 'en' });
  });
});

describe('the catalogue', () => {
  const all = catalogues();
  const english = all.en;

  it.each(LOCALES.filter((l) => l !== 'en'))('%s has every English key, no other, each non-empty, with the same placeholders', (locale) => {
    const other = all[locale];
    expect(Object.keys(other).sort()).toEqual(Object.keys(english).sort());
    for (const [key, message] of Object.entries(english)) {
      const translated = other[key];
      expect(typeof translated, key).toBe(typeof message);
      const texts = typeof translated === 'string' ? [translated] : [translated.one, translated.other];
      for (const text of texts) expect(text.trim(), key).not.toBe('');
      expect(placeholdersOf(translated), key).toEqual(placeholdersOf(message));
    }
  });

  it('holds no markup (a translation cannot inject any; markup goes in as Html parameters)', () => {
    for (const [locale, messages] of Object.entries(all)) {
      for (const [key, message] of Object.entries(messages)) expect(JSON.stringify(message), `${locale} ${key}`).not.toMatch(/[<>]/);
    }
  });
});

describe('formatting', () => {
  it('escapes parameters and the text itself, and keeps Html parameters as they are', () => {
    const out = formatHtml('From {sender} & co · until {when}', 'en-GB', { sender: '<img src=x onerror=alert(1)>"', when: trusted('<time>x</time>') });
    expect(out.value).toBe('From &lt;img src=x onerror=alert(1)&gt;&quot; &amp; co · until <time>x</time>');
    expect(html`<p>${out}</p>`.value).toBe(`<p>${out.value}</p>`); // not escaped twice
  });

  it('chooses plurals with the locale rules and leaves unknown placeholders visible', () => {
    const message = { one: '{count} attempt left', other: '{count} attempts left' };
    expect(formatText(message, 'en-GB', { count: 1 })).toBe('1 attempt left');
    expect(formatText(message, 'en-GB', { count: 0 })).toBe('0 attempts left');
    expect(formatText('Hello {name}', 'en-GB', {})).toBe('Hello {name}');
  });

  it('gives the same key in each language, with its parameters', () => {
    expect(translator('en').text('error.413.limit', { mb: 50 })).toBe('The upload is too large: at most 50 MB in all.');
    expect(translator('de').text('error.413.limit', { mb: 50 })).toBe('Der Upload ist zu groß: höchstens 50 MB insgesamt.');
  });

  it('links each language to this page, its query kept', () => {
    const links = translator('de', '/m/abc?sent=1&lang=de').languages;
    expect(links).toEqual([
      { locale: 'en', name: 'English', href: '/m/abc?sent=1&lang=en', current: false },
      { locale: 'de', name: 'Deutsch', href: '/m/abc?sent=1&lang=de', current: true },
    ]);
  });
});

describe('times', () => {
  const at = Date.UTC(2026, 11, 2, 6, 10, 42);

  it('renders a <time> with the ISO instant and a readable UTC text in the page language', () => {
    expect(timeElement(at, 'en-GB').value).toBe('<time datetime="2026-12-02T06:10:42.000Z" data-local-time>2 Dec 2026, 06:10 UTC</time>');
    expect(translator('de').time(at).value).toBe('<time datetime="2026-12-02T06:10:42.000Z" data-local-time>2. Dez. 2026, 06:10 UTC</time>');
    expect(utcText(Date.UTC(2027, 0, 5, 23, 59), 'en-GB')).toBe('5 Jan 2027, 23:59 UTC');
  });

  it('shows a dash for a time that is not there', () => {
    expect(translator('en').time(null).value).toBe('—');
    expect(translator('en').time(Number.NaN).value).toBe('—');
  });
});
