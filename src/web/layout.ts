import { stripHiddenCharacters } from '../mail/index.ts';
import { html, trusted, type Html } from './html.ts';
import { PAGE_SCRIPT, translator, type Translator } from './i18n/index.ts';

/** A name or subject as the page shows it: no bidi controls or invisible characters that could reorder or hide it (mail/display-text.ts). */
export const shown = (text: string | null | undefined): string => stripHiddenCharacters(text ?? '');

export interface PageOptions {
  title: string;
  nonce: string;
  body: Html;
  /** Inline script (this program's own), run under the request's nonce after the frame's own (i18n PAGE_SCRIPT). */
  script?: string;
  /** Shown top right: who is signed in, and how to leave. */
  header?: Html;
  /** Idle log-off seen in the browser: the page leaves for `url` after `afterMs` without activity. */
  idle?: { afterMs: number; url: string };
  /** The page's language (`i18n(request)`): `<html lang>`, the frame's texts, the language links. Default English. */
  i18n?: Translator;
}

const ENGLISH = translator();

export function page(options: PageOptions): string {
  const tr = options.i18n ?? ENGLISH;
  const brand = tr.site.organisation ?? tr.text('layout.brand');
  // The name is beside it, so the logo itself is decoration for a screen reader.
  const logo = tr.site.logo ? html`<img class="logo" src="${tr.site.logo}" alt="" height="32">` : '';
  const contact = tr.site.contact ? html`<p class="contact">${tr.site.contact}</p>` : '';
  const idle = options.idle ? html`<meta http-equiv="refresh" content="${Math.ceil(options.idle.afterMs / 1000) + 5};url=${options.idle.url}">` : '';
  const languages = html`<nav class="languages" aria-label="${tr.text('layout.languages')}"><ul>${tr.languages.map((l) => l.current
    ? html`<li><a href="${l.href}" lang="${l.locale}" aria-current="true">${l.name}</a></li>`
    : html`<li><a href="${l.href}" lang="${l.locale}" hreflang="${l.locale}" data-keep-hash>${l.name}</a></li>`)}</ul></nav>`;
  return `<!doctype html>\n${html`<html lang="${tr.locale}" data-intl-locale="${tr.intlLocale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
${idle}
<title>${options.title} · ${brand}</title>
<link rel="stylesheet" href="/static/portal.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<header class="top"><span class="brand">${logo}${brand}</span>${options.header ?? ''}</header>
<main>
${options.body}
</main>
<footer class="foot">${contact}${languages}</footer>
<script nonce="${options.nonce}">${trusted(options.script ? `${PAGE_SCRIPT}\n${options.script}` : PAGE_SCRIPT)}</script>
</body>
</html>`.value}\n`;
}

export function notice(kind: 'error' | 'info' | 'ok', text: string | Html | undefined): Html {
  return text ? html`<p class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>` : html``;
}

export const csrfField = (token: string): Html => html`<input type="hidden" name="_csrf" value="${token}">`;

/** A timestamp as `<time>` in the viewer's time zone (i18n/time.ts); pass the page's translator for its language. */
export function formatTime(ms: number | null, tr: Translator = ENGLISH): Html {
  return tr.time(ms);
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
