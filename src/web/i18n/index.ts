/*
 * The portal's languages: a typed message catalogue (en/ complete, de/ proving a second
 * language; a missing key fails tsc), locale negotiation per request, and timestamps shown
 * in the viewer's time zone. HACKING.md "How to add … a language".
 */
export { translator, catalogues, type Translator, type MessageKey, type Catalogue, type LanguageLink, type SiteBrand } from './translator.ts';
export { i18n, installLocale, rememberSite, LANG_COOKIE } from './request.ts';
export { negotiateLocale, fromAcceptLanguage, isLocale, LOCALES, DEFAULT_LOCALE, LANGUAGE_NAMES, type Locale } from './negotiate.ts';
export { PAGE_SCRIPT, INTL_LOCALE, timeElement, utcText } from './time.ts';
export { placeholdersOf, type Plural, type Message } from './format.ts';
