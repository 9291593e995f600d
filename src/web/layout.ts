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

/*
 * The idle log-off, as WCAG 2.2.1 (timing adjustable) asks: shortly before the server ends the
 * session the page warns and offers to stay, which asks the server for this page again in the
 * background (a request is activity: sessions.ts). Unanswered, the page leaves for the log-off
 * page, so a message is not left on a shared screen. A browser without scripts cannot warn; it
 * still leaves by <meta refresh> (in <noscript>), the page's content weighing more than the warning.
 */
const IDLE_SCRIPT = `(function () {
  var box = document.getElementById('idle-warning'), stay = document.getElementById('idle-stay');
  if (!box || !stay) return;
  var afterMs = Number(box.getAttribute('data-after-ms')), leadMs = Math.min(60000, afterMs / 2), url = box.getAttribute('data-url');
  var warnTimer, leaveTimer, before;
  function leave() { location.href = url; }
  function arm() {
    clearTimeout(warnTimer); clearTimeout(leaveTimer);
    warnTimer = setTimeout(function () {
      before = document.activeElement;
      box.hidden = false;
      stay.focus();
    }, afterMs - leadMs);
    leaveTimer = setTimeout(leave, afterMs + 5000);
  }
  stay.addEventListener('click', function () {
    fetch(location.pathname + location.search, { credentials: 'same-origin', cache: 'no-store', redirect: 'manual' }).then(function (response) {
      if (!response.ok) return leave();
      box.hidden = true;
      if (before && before.focus) before.focus();
      arm();
    }, leave);
  });
  arm();
})();`;

function idleWarning(idle: { afterMs: number; url: string }, tr: Translator): Html {
  return html`<div class="card idle-warning" id="idle-warning" role="alertdialog" aria-labelledby="idle-text" data-after-ms="${idle.afterMs}" data-url="${idle.url}" hidden>
<p id="idle-text">${tr.text('layout.idle.warning')}</p>
<button type="button" id="idle-stay">${tr.text('layout.idle.stay')}</button></div>`;
}

const ENGLISH = translator();

export function page(options: PageOptions): string {
  const tr = options.i18n ?? ENGLISH;
  const brand = tr.site.organisation ?? tr.text('layout.brand');
  // The name is beside it, so the logo itself is decoration for a screen reader.
  const logo = tr.site.logo ? html`<img class="logo" src="${tr.site.logo}" alt="" height="32">` : '';
  const contact = tr.site.contact ? html`<p class="contact">${tr.site.contact}</p>` : '';
  const idle = options.idle ? html`<noscript><meta http-equiv="refresh" content="${Math.ceil(options.idle.afterMs / 1000) + 5};url=${options.idle.url}"></noscript>` : '';
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
${options.idle ? idleWarning(options.idle, tr) : ''}
<script nonce="${options.nonce}">${trusted([PAGE_SCRIPT, options.script, options.idle ? IDLE_SCRIPT : undefined].filter(Boolean).join('\n'))}</script>
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
