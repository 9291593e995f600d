import { escapeHtml } from './html.ts';

/*
 * The message's own HTML (sanitised when sealed, mail/sanitize-html.ts) is its own document at
 * /m/<id>/body, shown in an <iframe sandbox> on the reading page. Its own document, not
 * `srcdoc`, because a srcdoc frame inherits the page's CSP, whose `style-src 'self'` would drop
 * every inline colour the sanitiser kept (issue 10 item 12); this response has its own CSP.
 *
 * Height: the frame sizes to its content. The sandbox has no allow-scripts — nothing in the
 * message ever runs — but it has allow-same-origin, so the reading page's own nonce'd script
 * can read the frame document's height and set the frame's (READ_SCRIPT in portal.ts). Without
 * scripts, same origin gives the frame nothing: it cannot run code to use it, its forms and
 * scripts are stripped and blocked twice over (sanitiser, sandbox, CSP `script-src` absent),
 * and links open in a new window (target=_blank, noopener). A srcdoc frame without
 * allow-same-origin would be opaque to the page, leaving only a server guess at the height (the
 * text's length says little of it at 390 px vs 1280 px) or a fixed box. Without JavaScript
 * the frame keeps the stylesheet's height and scrolls.
 */

/** The CSP of the frame's document: inline styles only (the sanitiser's allowlist), images from data: only, no scripts, framable by the portal alone, sandboxed even if opened on its own. */
export const FRAME_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox allow-same-origin";

/** The sandbox of the <iframe> on the reading page: never allow-scripts. */
export const FRAME_SANDBOX = 'allow-popups allow-popups-to-escape-sandbox allow-same-origin';

/** A whole document for the frame, the body already sanitised. */
export function frameDocument(sanitizedBody: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${escapeHtml(FRAME_CSP.replace(/; frame-ancestors[^;]*|; sandbox.*$/g, ''))}">`
    + `<meta name="referrer" content="no-referrer"><style>html,body{margin:0;padding:8px;overflow-wrap:anywhere}img{max-width:100%;height:auto}</style></head><body>${sanitizedBody}</body></html>`;
}
