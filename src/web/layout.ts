import { stripHiddenCharacters } from '../mail/index.ts';
import { html, trusted, type Html } from './html.ts';

/** A name or subject as the page shows it: no bidi controls or invisible characters that could reorder or hide it (mail/display-text.ts). */
export const shown = (text: string | null | undefined): string => stripHiddenCharacters(text ?? '');

export interface PageOptions {
  title: string;
  nonce: string;
  body: Html;
  /** Inline script (this program's own), run under the request's nonce. */
  script?: string;
  /** Shown top right: who is signed in, and how to leave. */
  header?: Html;
  /** Idle log-off seen in the browser: the page leaves for `url` after `afterMs` without activity. */
  idle?: { afterMs: number; url: string };
}

export function page(options: PageOptions): string {
  const idle = options.idle ? html`<meta http-equiv="refresh" content="${Math.ceil(options.idle.afterMs / 1000) + 5};url=${options.idle.url}">` : '';
  return `<!doctype html>\n${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
${idle}
<title>${options.title} · Sealgate</title>
<link rel="stylesheet" href="/static/portal.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<header class="top"><span class="brand">Sealgate</span>${options.header ?? ''}</header>
<main>
${options.body}
</main>
${options.script ? html`<script nonce="${options.nonce}">${trusted(options.script)}</script>` : ''}
</body>
</html>`.value}\n`;
}

export function notice(kind: 'error' | 'info' | 'ok', text: string | undefined): Html {
  return text ? html`<p class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>` : html``;
}

export const csrfField = (token: string): Html => html`<input type="hidden" name="_csrf" value="${token}">`;

export function formatTime(ms: number | null): string {
  if (ms === null) return '—';
  return new Date(ms).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
