import type { Html } from '../html.ts';
import { de } from './de/index.ts';
import { en } from './en/index.ts';
import { formatHtml, formatText, type Message, type ParamArgs, type TextParamArgs } from './format.ts';
import { DEFAULT_LOCALE, LANGUAGE_NAMES, LOCALES, type Locale } from './negotiate.ts';
import { INTL_LOCALE, timeElement } from './time.ts';

export type Catalogue = typeof en;
export type MessageKey = keyof Catalogue;

const CATALOGUES: Record<Locale, Record<MessageKey, Message>> = { en, de };

/** A language link of the page frame. */
export interface LanguageLink {
  locale: Locale;
  name: string;
  href: string;
  current: boolean;
}

/** How the organisation shows on every page (branding.*): its name, logo and contact line. */
export interface SiteBrand {
  organisation?: string;
  /** The logo's URL when branding.logoFile is set. */
  logo?: string;
  contact?: string;
}

/** The texts, times and language links of one page, in one language. */
export interface Translator {
  readonly locale: Locale;
  /** The Intl locale dates and numbers use (`en-GB`, `de-DE`). */
  readonly intlLocale: string;
  /** A message as markup, every parameter escaped unless it is `Html` already. */
  t<K extends MessageKey>(key: K, ...params: ParamArgs<Catalogue[K]>): Html;
  /** A message as plain text (titles, attributes, headers); printed through `html`, it is escaped there. */
  text<K extends MessageKey>(key: K, ...params: TextParamArgs<Catalogue[K]>): string;
  /** A timestamp as `<time>`, shown in the viewer's time zone (time.ts). */
  time(ms: number | null | undefined): Html;
  /** This page in each language (`?lang=`), for the frame's language links. */
  languages: LanguageLink[];
  /** The organisation the frame shows. */
  site: SiteBrand;
}

/** `path` is where the language links point (this page, its query kept); default `/`. */
export function translator(locale: Locale = DEFAULT_LOCALE, path = '/', site: SiteBrand = {}): Translator {
  const messages = CATALOGUES[locale];
  const intlLocale = INTL_LOCALE[locale];
  const url = new URL(path, 'https://portal.invalid');
  return {
    locale,
    intlLocale,
    t: (key, ...params) => formatHtml(messages[key], intlLocale, params[0] as Record<string, never> | undefined),
    text: (key, ...params) => formatText(messages[key], intlLocale, params[0] as Record<string, never> | undefined),
    time: (ms) => timeElement(ms, intlLocale, messages['time.none'] as string),
    languages: LOCALES.map((other) => {
      url.searchParams.set('lang', other);
      return { locale: other, name: LANGUAGE_NAMES[other], href: `${url.pathname}${url.search}`, current: other === locale };
    }),
    site,
  };
}

/** Every catalogue by locale, for the completeness test. */
export const catalogues = (): Readonly<Record<Locale, Record<string, Message>>> => CATALOGUES;
