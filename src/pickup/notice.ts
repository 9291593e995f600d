import { randomBytes } from 'node:crypto';
import { formatRfc5322Date, makeMessageId } from '../mail/index.ts';

/*
 * The e-mails Secure Message Pickup sends itself: the notice to the recipient, the one-time
 * code, the read notice to the sender. None carries anything of the secured message, not even
 * its subject. Each is multipart/alternative (text and HTML, UTF-8, quoted-printable) and
 * marked Auto-Submitted so vacation responders stay quiet.
 */

export const NOTICE_SUBJECT = 'You have a secure message';

interface MailHead {
  /** The portal's own address, e.g. `no-reply@<hostname>`. */
  from: string;
  /** Display name of `from`; default `Sealgate`. */
  fromName?: string;
  to: string;
  /** `<id@host>`; default a fresh one on the domain of `from`. */
  messageId?: string;
  date?: Date;
}

export interface NoticeInput extends MailHead {
  /** The full https link with the message password in the fragment (`pickupLink`). */
  link: string;
  messagePassword: string;
  /** Who sent it, as the recipient should recognise it: usually the sender's address. */
  senderDisplay: string;
  expiresAt: Date;
  /** Default neutral: `You have a secure message`. Never the secured message's subject. */
  subject?: string;
  /** The gateway's name, shown at the foot. */
  hostname: string;
}

export interface CodeMailInput extends MailHead {
  code: string;
  validMinutes?: number;
}

export interface ReadNoticeInput extends MailHead {
  recipient: string;
  openedAt: Date;
}

/** The notice that a secure message waits: the link, the password to type, the expiry. */
export function buildNotice(input: NoticeInput): Buffer {
  const url = new URL(input.link);
  if (url.protocol !== 'https:' || !url.hash) throw new Error('the notice link must be an https link with the message password in its fragment (use pickupLink with web.publicUrl)');
  const sender = oneLine(input.senderDisplay) || 'Someone';
  const expires = input.expiresAt.toUTCString();
  const password = oneLine(input.messagePassword);
  const host = oneLine(input.hostname);
  const text = [
    wrap(`${sender} has sent you a secure message.`),
    '',
    'Open it here:',
    input.link,
    '',
    'Message password:',
    `    ${password}`,
    wrap('The link above already holds it; type it in when the page asks for it.'),
    '',
    wrap(`The message can be read until ${expires}.`),
    '',
    wrap('The portal never asks for the password of your e-mail account or any other password of yours.'),
    '',
    `-- `,
    `Sealgate secure mail at ${host}`,
  ].join('\n');
  const html = page(input.subject ?? NOTICE_SUBJECT, [
    `<p><strong>${escapeHtml(sender)}</strong> has sent you a secure message.</p>`,
    `<p><a href="${escapeHtml(input.link)}" style="display:inline-block;padding:10px 18px;background:#1d4ed8;color:#ffffff;text-decoration:none;border-radius:4px">Open the secure message</a></p>`,
    `<p style="font-size:13px;color:#555555">Or copy this address into your browser:<br>${escapeHtml(input.link)}</p>`,
    `<p>Message password:<br><code style="font-size:18px;letter-spacing:1px">${escapeHtml(password)}</code><br>`,
    '<span style="font-size:13px;color:#555555">The link above already holds it; type it in when the page asks for it.</span></p>',
    `<p>The message can be read until ${escapeHtml(expires)}.</p>`,
    '<p>The portal never asks for the password of your e-mail account or any other password of yours.</p>',
    `<p style="font-size:12px;color:#777777">Sealgate secure mail at ${escapeHtml(host)}</p>`,
  ]);
  return compose(input, input.subject ?? NOTICE_SUBJECT, text, html);
}

/** The one-time code a recipient asked for. The code stands alone on an indented line. */
export function buildCodeMail(input: CodeMailInput): Buffer {
  const code = oneLine(input.code);
  const minutes = input.validMinutes ?? 10;
  const text = [
    'Your one-time code for the secure message waiting for you is:',
    '',
    `    ${code}`,
    '',
    wrap(`It is valid for ${minutes} minutes. If you did not ask for it, ignore this e-mail.`),
  ].join('\n');
  const html = page('Your one-time code', [
    '<p>Your one-time code for the secure message waiting for you is:</p>',
    `<p><code style="font-size:22px;letter-spacing:3px">${escapeHtml(code)}</code></p>`,
    `<p>It is valid for ${minutes} minutes. If you did not ask for it, ignore this e-mail.</p>`,
  ]);
  return compose(input, 'Your one-time code', text, html);
}

/** Tells the sender the recipient opened the message (on the first open only). */
export function buildReadNotice(input: ReadNoticeInput): Buffer {
  const recipient = oneLine(input.recipient);
  const opened = input.openedAt.toUTCString();
  const text = [
    'Your secure message',
    `to ${recipient}`,
    `was opened on ${opened}.`,
    '',
    wrap('The access log in the Sealgate console shows every open, download and reply.'),
  ].join('\n');
  const html = page('Your secure message was opened', [
    `<p>Your secure message to <strong>${escapeHtml(recipient)}</strong> was opened on ${escapeHtml(opened)}.</p>`,
    '<p>The access log in the Sealgate console shows every open, download and reply.</p>',
  ]);
  return compose(input, 'Your secure message was opened', text, html);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };
const escapeHtml = (text: string): string => text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);

/** One line of display text: no controls, no direction overrides, no runaway length. */
function oneLine(text: string, max = 200): string {
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${Array.from(flat).slice(0, max - 1).join('')}…` : flat;
}

/** Word-wraps a paragraph so the text part reads well and quoted-printable rarely breaks a line. */
function wrap(paragraph: string, width = 72): string {
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

function page(title: string, body: string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
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

function compose(head: MailHead, subject: string, text: string, html: string): Buffer {
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
    'Auto-Submitted: auto-generated',
    'X-Auto-Response-Suppress: All',
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

/** RFC 2047 B words of at most 39 UTF-8 bytes each (64 characters), never splitting a character. */
function encodedWords(text: string): string[] {
  const words: string[] = [];
  let chunk = '';
  for (const char of text) {
    if (Buffer.byteLength(chunk + char, 'utf8') > 39) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk) words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`);
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
