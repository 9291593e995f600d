import { randomBytes } from 'node:crypto';
import { encodedWords, formatRfc5322Date, makeMessageId } from '../mail/index.ts';

/*
 * The MIME form of the mails the gateway writes itself (notice.ts, notice-reply.ts): one
 * multipart/alternative of a text and an HTML part, UTF-8 in quoted-printable, every header
 * line within 78 characters, display text flattened to one line.
 */

export interface MailHead {
  /** The gateway's own address (`noticeAddress(config)`, `notices@<hostname>` by default). */
  from: string;
  /** Display name of `from`; default `Sealgate`. */
  fromName?: string;
  to: string;
  /** `<id@host>`; default a fresh one on the domain of `from`. */
  messageId?: string;
  date?: Date;
}

/** Headers beyond the fixed set, e.g. `In-Reply-To`; each `[name, value]` is checked and folded. */
export type ExtraHeaders = [name: string, value: string][];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);

/** One line of display text: no controls, no direction overrides, no runaway length. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${Array.from(flat).slice(0, max - 1).join('')}…` : flat;
}

/** Word-wraps a paragraph so the text part reads well and quoted-printable rarely breaks a line. */
export function wrap(paragraph: string, width = 72): string {
  const lines: string[] = [];
  let line = '';
  for (const word of paragraph.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join('\n');
}

export function htmlDocument(title: string, body: string[], lang = 'en'): string {
  return [
    '<!DOCTYPE html>',
    `<html lang="${escapeHtml(lang)}"><head><meta charset="utf-8">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title></head>`,
    '<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#1a1a1a">',
    ...body,
    '</body></html>',
  ].join('\n');
}

function checkAddress(address: string, role: string): string {
  if (!/^[^\s<>]+@[^\s<>@]+$/.test(address)) throw new Error(`the ${role} address ${JSON.stringify(address)} is not a plain address (local@domain): give it without name or angle brackets`);
  return address;
}

export function composeMail(head: MailHead, subject: string, text: string, html: string, options: { autoSubmitted?: 'auto-generated' | 'auto-replied'; extra?: ExtraHeaders } = {}): Buffer {
  const from = checkAddress(head.from, 'From');
  const to = checkAddress(head.to, 'To');
  if (head.messageId !== undefined && !/^<[^\s<>]+@[^\s<>]+>$/.test(head.messageId)) throw new Error(`the Message-ID ${JSON.stringify(head.messageId)} is not of the form <id@host>: use makeMessageId`);
  const boundary = `sg-alt-${randomBytes(12).toString('hex')}`;
  const headers = [
    `From: ${displayName(head.fromName ?? 'Sealgate')} <${from}>`,
    `To: <${to}>`,
    header('Subject', oneLine(subject, 400)),
    `Date: ${formatRfc5322Date(head.date ?? new Date())}`,
    `Message-ID: ${head.messageId ?? makeMessageId(from.slice(from.lastIndexOf('@') + 1))}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative;\r\n boundary="${boundary}"`,
    `Auto-Submitted: ${options.autoSubmitted ?? 'auto-generated'}`,
    'X-Auto-Response-Suppress: All',
    ...(options.extra ?? []).map(([name, value]) => {
      if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(name)) throw new Error(`the header name ${JSON.stringify(name)} is not a field name`);
      return header(name, oneLine(value, 900));
    }),
  ];
  const part = (type: string, body: string) =>
    [`--${boundary}`, `Content-Type: ${type}; charset=utf-8`, 'Content-Transfer-Encoding: quoted-printable', '', quotedPrintable(body)].join('\r\n');
  const message = [
    headers.join('\r\n'), '',
    'This is a message in MIME format.',
    part('text/plain', text),
    part('text/html', html),
    `--${boundary}--`, '',
  ].join('\r\n');
  return Buffer.from(message, 'utf8');
}

/** A display name as a quoted string, or RFC 2047 encoded words when it is not plain ASCII. */
function displayName(name: string): string {
  const clean = oneLine(name, 64);
  if (/^[\x20-\x7e]*$/.test(clean)) return `"${clean.replace(/["\\]/g, '\\$&')}"`;
  return encodedWords(clean).join(' ');
}

/** `Name: value` folded to lines of at most 78 characters (RFC 5322 §2.1.1). */
function header(name: string, value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) return `${name}: ${encodedWords(value).join('\r\n ')}`;
  const lines: string[] = [];
  let line = `${name}:`;
  for (const word of value.split(' ')) {
    if (line.length + 1 + word.length > 78 && line.trim() !== `${name}:`) {
      lines.push(line);
      line = ` ${word}`;
    } else line = `${line} ${word}`;
  }
  lines.push(line);
  return lines.join('\r\n');
}


/** Quoted-printable (RFC 2045 §6.7) of UTF-8 text: lines of at most 76 characters, CRLF breaks. */
export function quotedPrintable(text: string): string {
  return text.replace(/\r\n?/g, '\n').split('\n').map((line) => {
    const bytes = Buffer.from(line, 'utf8');
    const out: string[] = [];
    let current = '';
    bytes.forEach((byte, i) => {
      const last = i === bytes.length - 1;
      const literal = (byte >= 33 && byte <= 126 && byte !== 61) || ((byte === 32 || byte === 9) && !last);
      // A leading dot or "From " invites mangling by old relays; encoding the first byte avoids it.
      const guard = current === '' && ((byte === 46) || (byte === 70 && bytes.subarray(i, i + 5).toString('latin1') === 'From '));
      const token = literal && !guard ? String.fromCharCode(byte) : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      if (current.length + token.length > 75) {
        out.push(`${current}=`);
        current = '';
      }
      current += token;
    });
    out.push(current);
    return out.join('\r\n');
  }).join('\r\n');
}
