import { escapeHtml } from './html.ts';

/** The CSP the frame's own document carries (it also inherits the page's, which is stricter still). */
export const FRAME_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

/** A whole document for `<iframe sandbox srcdoc>`, the body already sanitised. */
export function frameDocument(sanitizedBody: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${escapeHtml(FRAME_CSP)}">`
    + `<meta name="referrer" content="no-referrer"></head><body>${sanitizedBody}</body></html>`;
}
