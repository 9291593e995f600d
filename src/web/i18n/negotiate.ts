/*
 * Which language a page is in: an explicit `?lang=` choice (remembered in a cookie), else
 * the cookie, else the browser's Accept-Language (RFC 9110 §12.5.4, q-values), else English.
 * Matching is RFC 4647 §3.4 lookup: `de-CH` falls back to `de`. Hand-written (about 30
 * lines) rather than a dependency: the portal offers a fixed, short list of languages.
 */

export const LOCALES = ['en', 'de'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

/** Each language's name in itself, for the language links. */
export const LANGUAGE_NAMES: Record<Locale, string> = { en: 'English', de: 'Deutsch' };

export const isLocale = (value: unknown): value is Locale => typeof value === 'string' && (LOCALES as readonly string[]).includes(value);

/** The supported locale a language tag falls back to (`de-AT` → `de`), if any. */
function lookup(tag: string): Locale | undefined {
  const parts = tag.toLowerCase().split('-');
  for (let n = parts.length; n > 0; n--) {
    const candidate = parts.slice(0, n).join('-');
    if (isLocale(candidate)) return candidate;
  }
  return undefined;
}

const RANGE = /^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)$/;
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** The best supported locale for an Accept-Language header; undefined when none is acceptable. */
export function fromAcceptLanguage(header: string | undefined): Locale | undefined {
  if (!header) return undefined;
  const ranges: { tag: string; q: number; order: number }[] = [];
  header.split(',').slice(0, 50).forEach((item, order) => {
    const [tag, ...params] = item.trim().split(';').map((p) => p.trim());
    if (!tag || !RANGE.test(tag)) return;
    let q = 1;
    for (const param of params) {
      const [name, value] = param.split('=').map((p) => p.trim());
      if (name.toLowerCase() !== 'q') continue;
      if (!QVALUE.test(value ?? '')) return; // a malformed weight: ignore the range, not the header
      q = Number(value);
    }
    ranges.push({ tag, q, order });
  });
  ranges.sort((a, b) => b.q - a.q || a.order - b.order);
  // q=0 means "not acceptable": such a language is never chosen, even by `*`.
  const refused = new Set(ranges.filter((r) => r.q === 0).map((r) => lookup(r.tag)).filter(Boolean));
  for (const range of ranges) {
    if (range.q === 0) break;
    if (range.tag === '*') return LOCALES.find((l) => !refused.has(l));
    const locale = lookup(range.tag);
    if (locale && !refused.has(locale)) return locale;
  }
  return undefined;
}

export interface LocaleChoice {
  locale: Locale;
  /** Set when `?lang=` named a supported locale different from the cookie: remember it. */
  remember?: Locale;
}

export function negotiateLocale(input: { query?: unknown; cookie?: string; acceptLanguage?: string }): LocaleChoice {
  if (isLocale(input.query)) return { locale: input.query, remember: input.query === input.cookie ? undefined : input.query };
  if (isLocale(input.cookie)) return { locale: input.cookie };
  return { locale: fromAcceptLanguage(input.acceptLanguage) ?? DEFAULT_LOCALE };
}
