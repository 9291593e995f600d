import { encodedWords } from './encoded-words.ts';

/*
 * Sealgate's control headers (`Sealgate-*`) and the pickup subject tag: instructions from a
 * sender to us, never part of the message. Ingress reads them once (submission) or ignores
 * them (inbound) and removes them from the stored message, so no copy on any route — relay,
 * smarthost, pickup, bounce — can carry them (docs/architecture.md §9, issue 8 item 13).
 * Pure header-block edits on latin1 text, so every other byte stays exactly as it came.
 */

export type SecureVerification = 'link' | 'code' | 'passphrase' | 'question';

export interface SecureChoice {
  verification: SecureVerification;
  passphraseOrAnswer?: string;
  question?: string;
}

export class SecureHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecureHeaderError';
  }
}

/**
 * The sender's choice of verification, from the `Sealgate-Secure` header of a submitted
 * message: empty or `yes` (the site default), `link`, `code`, `passphrase=<text>`, or
 * `question=<text>; answer=<text>`.
 */
export function parseSecureHeader(value: string | undefined, fallback: 'link' | 'code'): SecureChoice {
  const text = (value ?? '').replace(/\r?\n[ \t]+/g, ' ').trim();
  if (text === '' || /^yes$/i.test(text)) return { verification: fallback };
  if (/^(link|code)$/i.test(text)) return { verification: text.toLowerCase() as 'link' | 'code' };
  const passphrase = /^passphrase\s*=\s*(.+)$/is.exec(text);
  if (passphrase) return { verification: 'passphrase', passphraseOrAnswer: passphrase[1].trim() };
  const question = /^question\s*=\s*(.+?)\s*;\s*answer\s*=\s*(.+)$/is.exec(text);
  if (question) return { verification: 'question', question: question[1].trim(), passphraseOrAnswer: question[2].trim() };
  // Never quote the value: a mistyped field still carries the passphrase or answer, and this
  // text goes into the SMTP reply and the ingress log (no secrets in logs, docs/architecture.md §9).
  throw new SecureHeaderError('Sealgate-Secure: cannot read the field; use yes, link, code, passphrase=..., or question=...; answer=...');
}

/** Whether the Sealgate-Secure value asks for the site default (no explicit choice). */
export function isDefaultSecureChoice(value: string): boolean {
  return /^\s*(yes)?\s*$/i.test(value.replace(/\r?\n[ \t]+/g, ' '));
}

/**
 * Takes the pickup tag (default `[secure]`) out of a subject, any case, anywhere, every time
 * it occurs; the spaces around it collapse to one.
 */
export function stripSubjectTag(subject: string, tag = '[secure]'): { subject: string; tagged: boolean } {
  const needle = tag.trim();
  if (!needle) return { subject, tagged: false };
  const pattern = new RegExp(`[ \\t]*${needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ \\t]*`, 'gi');
  if (!pattern.test(subject)) return { subject, tagged: false };
  pattern.lastIndex = 0;
  return { subject: subject.replace(pattern, ' ').trim(), tagged: true };
}

/*
 * RFC 2047 encoded words, only as far as the subject tag needs them: a client that writes any
 * non-ASCII subject (Outlook, nodemailer, a lab system with umlauts) may put the whole subject,
 * tag included, in `=?UTF-8?B?…?=`. Written here rather than taken from libmime because that is
 * not a dependency of ours (only of mailparser's), and mailparser parses whole messages, async.
 */
const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

function decodeWord(charset: string, encoding: string, text: string): string | undefined {
  const bytes = encoding.toUpperCase() === 'B'
    ? Buffer.from(text, 'base64')
    : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  try {
    // RFC 2231 §5: a language may follow the charset (`UTF-8*de`).
    return new TextDecoder(charset.split('*')[0], { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** The unfolded value with its encoded words decoded (RFC 2047 §6.2: blanks between adjacent words go). */
export function decodeHeaderValue(value: string): string {
  const unfolded = value.replace(/\r?\n([ \t])/g, '$1');
  return unfolded
    .replace(/(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)[ \t]+(?==\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)/g, '$1')
    .replace(ENCODED_WORD, (word, charset: string, encoding: string, text: string) => decodeWord(charset, encoding, text) ?? word);
}

/**
 * A field value from a header block read as latin1, as the text its writer meant: raw 8-bit
 * bytes are UTF-8 when they decode as such (RFC 6532; otherwise they stay latin1), and
 * encoded words are decoded. For values Sealgate itself acts on (the sender's passphrase or
 * answer must compare as typed, issue 10 item 9), not for bytes passed on unchanged.
 */
export function headerValueText(latin1Value: string): string {
  let text = latin1Value;
  if (/[\x80-\xff]/.test(latin1Value)) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(latin1Value, 'latin1'));
    } catch {
      // Not UTF-8: keep the bytes as latin1 characters.
    }
  }
  return decodeHeaderValue(text);
}

/** A subject value as we write it back: ASCII as is, anything else as UTF-8 B words (≤ 75 characters each), folded. */
function encodeSubjectValue(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  return encodedWords(text, 45).join('\r\n ');
}

/** Whether a raw Subject value carries the tag, written plainly or inside encoded words. */
export function subjectHasTag(rawValue: string, tag: string): boolean {
  return stripSubjectTag(rawValue, tag).tagged || (rawValue.includes('=?') && stripSubjectTag(decodeHeaderValue(rawValue), tag).tagged);
}

/** One header field as it stands in the block: its name and its raw text, folds included. */
export interface RawField {
  name: string;
  raw: string;
}

/** Splits a header block (latin1 text, without the blank line or with it) into raw fields. */
export function rawFields(block: string): { fields: RawField[]; tail: string } {
  const end = block.search(/\r?\n\r?\n/);
  const head = end >= 0 ? block.slice(0, end) : block.replace(/\r?\n$/, '');
  const tail = end >= 0 ? block.slice(end) : block.slice(head.length);
  const fields: RawField[] = [];
  for (const line of head.split(/\r\n/)) {
    if ((line[0] === ' ' || line[0] === '\t') && fields.length) {
      fields[fields.length - 1].raw += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    fields.push({ name: colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '', raw: line });
  }
  return { fields, tail };
}

export function joinFields(fields: RawField[], tail: string): string {
  return fields.map((f) => f.raw).join('\r\n') + tail;
}

export interface HeaderEdit {
  /** Drop every `Sealgate-*` field. */
  dropControls?: boolean;
  /** Take this tag out of every Subject field. */
  subjectTag?: string;
  /** Drop `Authentication-Results` fields whose authserv-id is this (case-insensitive), and ARC sets claiming it. */
  ourAuthservId?: string;
}

/**
 * RFC 8601 §2.2: the authserv-id is the first token of the value (before the first `;`),
 * optionally followed by a version; comments (CFWS) may precede it.
 */
export function authservIdOf(fieldRaw: string): string {
  const value = fieldRaw.slice(fieldRaw.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ');
  return idToken(withoutComments(value));
}

/**
 * The first token of `text`, unquoted and lower case. RFC 2047 words do not belong in a
 * structured field, but a lenient reader behind us may decode them, so one that spells our
 * id counts as our id.
 */
function idToken(text: string): string {
  const token = (text.trim().split(/[\s;]/)[0] ?? '').replace(/^"|"$/g, '');
  return (token.includes('=?') ? decodeHeaderValue(token) : token).replace(/^"|"$/g, '').trim().toLowerCase();
}

/**
 * RFC 8617 §4.1.1: an ARC-Authentication-Results value is `i=N;` and then an
 * Authentication-Results value. Its instance and authserv-id, or null when it has no `i=`.
 */
function arcResultsOf(fieldRaw: string): { instance: string; authservId: string } | null {
  const value = withoutComments(fieldRaw.slice(fieldRaw.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' '));
  const match = /^\s*i\s*=\s*(\d+)\s*;(.*)$/is.exec(value);
  return match ? { instance: match[1], authservId: idToken(match[2]) } : null;
}

/** The `i=` tag of an ARC-Seal or ARC-Message-Signature (a DKIM-style tag list). */
function arcInstanceOf(fieldRaw: string): string | undefined {
  return /(?:^|;)\s*i\s*=\s*(\d+)\s*(?:;|$)/.exec(fieldRaw.slice(fieldRaw.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' '))?.[1];
}

/**
 * The text with its RFC 5322 §3.2.2 comments replaced by a space. Comments nest and hold
 * quoted-pairs, so this counts depth: a one-pass regex left `((x)) our.id` reading as "(".
 * An unterminated comment runs to the end, as a strict reader would take it.
 */
export function withoutComments(text: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (depth > 0 && c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) {
      if (--depth === 0) out += ' ';
    } else if (depth === 0) out += c;
  }
  return out;
}

/** Applies `edit` to a raw header block; what it leaves stays byte for byte. */
export function editHeaderBlock(block: string, edit: HeaderEdit): { block: string; removed: string[] } {
  const { fields, tail } = rawFields(block);
  const removed: string[] = [];
  const ours = edit.ourAuthservId?.toLowerCase();
  // An ARC set that says it is ours (RFC 8617 §4.1.1: its ARC-Authentication-Results names our
  // authserv-id) goes whole, seal and message signature of that instance too: only we add ours.
  const forgedArc = new Set(
    ours ? fields.filter((f) => f.name === 'arc-authentication-results').map((f) => arcResultsOf(f.raw)).filter((r) => r?.authservId === ours).map((r) => r!.instance) : [],
  );
  const kept = fields.filter((field) => {
    if (forgedArc.size && (field.name === 'arc-authentication-results' || field.name === 'arc-seal' || field.name === 'arc-message-signature')) {
      const instance = field.name === 'arc-authentication-results' ? arcResultsOf(field.raw)?.instance : arcInstanceOf(field.raw);
      if (instance !== undefined && forgedArc.has(instance)) {
        removed.push(field.name);
        return false;
      }
    }
    if (edit.dropControls && field.name.startsWith('sealgate-')) {
      removed.push(field.name);
      return false;
    }
    if (ours && field.name === 'authentication-results' && authservIdOf(field.raw) === ours) {
      removed.push(field.name);
      return false;
    }
    return true;
  });
  if (edit.subjectTag) {
    for (const field of kept) {
      if (field.name !== 'subject') continue;
      const colon = field.raw.indexOf(':');
      const raw = field.raw.slice(colon + 1);
      if (raw.includes('=?')) {
        // Encoded words (the tag inside one, or beside one): decode, strip, write the rest back encoded.
        const decoded = stripSubjectTag(decodeHeaderValue(raw), edit.subjectTag);
        if (decoded.tagged) field.raw = `${field.raw.slice(0, colon)}: ${encodeSubjectValue(decoded.subject)}`;
        continue;
      }
      const stripped = stripSubjectTag(raw, edit.subjectTag);
      if (stripped.tagged) field.raw = `${field.raw.slice(0, colon)}: ${stripped.subject}`;
    }
  }
  return { block: removed.length || edit.subjectTag ? joinFields(kept, tail) : block, removed };
}
