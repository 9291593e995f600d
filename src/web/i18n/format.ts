import { Html, escapeHtml } from '../html.ts';

/*
 * The catalogue's message format, written here rather than taken from a library (i18next,
 * ICU MessageFormat) because the portal needs exactly two things and their types: `{name}`
 * placeholders the type system reads out of the English text, and one/other plurals chosen
 * by Intl.PluralRules. Everything else (dates, numbers) is Intl's.
 */

/** A plural message: chosen by the `count` parameter with the locale's plural rules. */
export interface Plural {
  one: string;
  other: string;
}

export type Message = string | Plural;

/** The `{name}` placeholders of a message text, as a union of names. */
export type Placeholders<S> = S extends Plural
  ? Placeholders<S['one']> | Placeholders<S['other']> | 'count'
  : S extends `${string}{${infer Name}}${infer Rest}`
    ? Name | Placeholders<Rest>
    : never;

/** A parameter: text and numbers are escaped, `Html` (a `<time>`, a link we built) goes in as it is. */
export type Param = string | number | Html;

/** The argument list of a message: none, or an object naming each placeholder (`count` is a number). */
export type ParamArgs<S, V = Param> = [Placeholders<S>] extends [never] ? [] : [params: { [P in Placeholders<S>]: P extends 'count' ? number : V }];

/** Plain text takes plain values only: markup has no place in a title or a header. */
export type TextParamArgs<S> = ParamArgs<S, string | number>;

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9]*)\}/g;

// One per page language, as time.ts keeps its formats: building Intl.PluralRules (ICU) for
// each plural message was ~4% of the reading page's CPU (bench/README.md, portal).
const pluralRules = new Map<string, Intl.PluralRules>();

function pick(message: Message, locale: string, params: Record<string, unknown> | undefined): string {
  if (typeof message === 'string') return message;
  const count = Number(params?.count);
  let rules = pluralRules.get(locale);
  if (!rules) {
    rules = new Intl.PluralRules(locale);
    pluralRules.set(locale, rules);
  }
  return rules.select(count) === 'one' ? message.one : message.other;
}

/**
 * The message as markup: its own text is escaped too (the catalogue holds no markup, so a
 * translation cannot inject any), and so is every parameter that is not already `Html`.
 */
export function formatHtml(message: Message, locale: string, params?: Record<string, Param>): Html {
  const text = pick(message, locale, params);
  let out = '';
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    out += escapeHtml(text.slice(last, match.index));
    const value = params?.[match[1]];
    out += value === undefined ? escapeHtml(match[0]) : value instanceof Html ? value.value : escapeHtml(String(value));
    last = match.index + match[0].length;
  }
  return new Html(out + escapeHtml(text.slice(last)));
}

/** The message as plain text (a title, an attribute, a mail header): escaped later by whoever prints it. */
export function formatText(message: Message, locale: string, params?: Record<string, string | number>): string {
  const text = pick(message, locale, params);
  return text.replace(PLACEHOLDER, (whole, name: string) => (params?.[name] === undefined ? whole : String(params[name])));
}

/** The placeholder names a message uses (for the catalogue test: every language uses the same). */
export function placeholdersOf(message: Message): string[] {
  const texts = typeof message === 'string' ? [message] : [message.one, message.other];
  const names = new Set(texts.flatMap((t) => [...t.matchAll(PLACEHOLDER)].map((m) => m[1])));
  if (typeof message !== 'string') names.add('count');
  return [...names].sort();
}

/** What another language must provide for an English catalogue: every key, a plural where English has one. */
export type Translation<E> = { [K in keyof E]: E[K] extends string ? string : Plural };
