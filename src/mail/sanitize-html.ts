import { createRequire } from 'node:module';
import type sanitizeHtml from 'sanitize-html';

const require = createRequire(import.meta.url);
let sanitizer: typeof sanitizeHtml | undefined;
/**
 * sanitize-html (with postcss and htmlparser2, ~15 MB resident) is loaded at the first HTML
 * body sanitised, not with the config that imports this folder: most processes never sanitise.
 * Sync because sanitising is; the package is CommonJS, so `require` gets what `import` would.
 */
function loadSanitizer(): typeof sanitizeHtml {
  return (sanitizer ??= require('sanitize-html') as typeof sanitizeHtml);
}

/*
 * HTML bodies of pickup messages are hostile until proven otherwise. They are sanitised once,
 * when sealed (pickup), so every later view shows the same inert markup without paying for it. The sanitiser keeps only
 * structure and text (no scripts, style sheets, event handlers, forms, meta, frames, SVG) and the
 * inline styles that carry a sender's emphasis — colours, fonts, alignment (issue 10 item 12) —
 * each value matched whole against a pattern that admits no function but rgb()/hsl() on
 * numbers, so no url(), expression(), var() or escape gets through, and no property that places
 * or sizes a box (position, display, width, margin …) exists here at all: no overlay. Links stay
 * clickable but open outside the frame, and images load only from inline data: URLs: a remote
 * image is a read beacon, so it is blocked by default and replaced by its alt text.
 */

const ALLOWED_TAGS = [
  'a', 'abbr', 'b', 'blockquote', 'br', 'caption', 'center', 'cite', 'code', 'col', 'colgroup', 'dd', 'del', 'div', 'dl', 'dt',
  'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'ins', 'kbd', 'li', 'mark', 'ol', 'p', 'pre', 'q', 's', 'small',
  'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'u', 'ul',
];

const CELL = ['colspan', 'rowspan', 'align', 'valign', 'width'];
const DATA_IMAGE = /^data:image\/(png|gif|jpeg|webp);base64,[a-z0-9+/=\s]+$/i;
const LINK = /^(https?:\/\/|mailto:)/i;

const COLOUR = [/^#[0-9a-f]{3,8}$/i, /^[a-z]{3,20}$/i, /^(rgb|hsl)a?\(\s*[\d.]+%?(\s*[,\s/]\s*[\d.]+%?){2,3}\s*\)$/i];
const LENGTH = /^\d{1,3}(\.\d{1,2})?(px|pt|em|rem|%)$/i;
/** Inline CSS kept: property → the only values allowed (whole-value matches). */
const ALLOWED_STYLES: Record<string, RegExp[]> = {
  color: COLOUR,
  'background-color': COLOUR,
  'font-weight': [/^(normal|bold|bolder|lighter|[1-9]00)$/i],
  'font-style': [/^(normal|italic|oblique)$/i],
  'font-size': [LENGTH, /^(xx-small|x-small|small|medium|large|x-large|xx-large|smaller|larger)$/i],
  'font-family': [/^[a-z0-9 ,'"-]{1,200}$/i],
  'text-align': [/^(left|right|center|justify|start|end)$/i],
  'text-decoration': [/^(none|underline|line-through|overline)$/i],
};

export interface SanitizedHtml {
  html: string;
  blockedImages: number;
}

export function sanitizeEmailHtml(input: string): SanitizedHtml {
  let blockedImages = 0;
  const html = loadSanitizer()(input, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: {
      '*': ['dir', 'lang', 'title', 'style'],
      a: ['href', 'target', 'rel'],
      img: ['src', 'alt', 'width', 'height'],
      td: CELL,
      th: CELL,
      table: ['border', 'cellpadding', 'cellspacing', 'width', 'align'],
      ol: ['start', 'type'],
      col: ['span', 'width'],
      colgroup: ['span', 'width'],
    },
    allowedStyles: { '*': ALLOWED_STYLES },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['data'] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    disallowedTagsMode: 'discard',
    // Their text is code or chrome, not message text: dropped with the tag.
    nonTextTags: ['script', 'style', 'textarea', 'option', 'select', 'noscript', 'noembed', 'noframes', 'title', 'head', 'template', 'svg', 'math', 'iframe', 'object', 'embed', 'xmp', 'button'],
    transformTags: {
      a: (_tag, attribs): sanitizeHtml.Tag => {
        const href = attribs.href?.trim();
        const kept: sanitizeHtml.Attributes = href && LINK.test(href) ? { href, target: '_blank', rel: 'noopener noreferrer' } : {};
        return { tagName: 'a', attribs: kept };
      },
      img: (_tag, attribs): sanitizeHtml.Tag => {
        const src = attribs.src?.trim() ?? '';
        if (DATA_IMAGE.test(src)) {
          const kept: sanitizeHtml.Attributes = { src, alt: attribs.alt ?? '' };
          if (attribs.width) kept.width = attribs.width;
          if (attribs.height) kept.height = attribs.height;
          return { tagName: 'img', attribs: kept };
        }
        blockedImages++;
        const alt = attribs.alt?.trim();
        return { tagName: 'span', attribs: { title: 'remote image blocked' }, text: `[image${alt ? `: ${alt}` : ''}]` };
      },
    },
  });
  return { html, blockedImages };
}

/** How many remote images a sanitised body had replaced by their alt text. */
export function countBlockedImages(sanitized: string): number {
  return sanitized.split('title="remote image blocked"').length - 1;
}
