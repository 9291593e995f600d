/**
 * The MIME structure PGP/MIME needs (RFC 3156, RFC 2046 §5.1), on bytes. Written by hand rather
 * than with mailparser because a multipart/signed signature covers the first part's exact bytes,
 * which a parser that decodes parts cannot give back; the header lines themselves are parsed and
 * written with src/mail (parseHeaders, encodeHeaderLine: every byte checked for CR/LF/NUL).
 */
import { randomBytes } from 'node:crypto';
import { MailError } from '../../kernel/index.ts';
import { toCrlf } from '../crlf.ts';
import { encodeHeaderLine, parseHeaders, splitHeaderBlock, type HeaderField } from '../../mail/index.ts';

export interface Entity {
  headers: HeaderField[];
  body: Buffer;
}

/** Bare LF (and lone CR) to CRLF: RFC 3156 §5 signs and verifies the canonical CRLF form. */
export function canonicalCrlf(bytes: Uint8Array): Buffer {
  return toCrlf(bytes, true);
}

export function splitEntity(bytes: Buffer): Entity {
  const split = splitHeaderBlock(bytes);
  if (!split) return { headers: parseHeaders(bytes.toString('latin1')), body: Buffer.alloc(0) };
  // latin1 keeps every byte as one char, so 8-bit header text goes back out unchanged.
  return { headers: parseHeaders(bytes.subarray(0, split.headerEnd).toString('latin1')), body: bytes.subarray(split.headerEnd) };
}

export interface ContentType {
  type: string;
  params: Map<string, string>;
}

/** `multipart/signed; micalg="pgp-sha256"; boundary=x` → type and lower-cased parameter names. */
export function parseContentType(value: string | undefined): ContentType {
  if (!value) return { type: 'text/plain', params: new Map() };
  const params = new Map<string, string>();
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const paramRe = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))/g;
  for (const m of (semi < 0 ? '' : value.slice(semi)).matchAll(paramRe)) {
    params.set(m[1].toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]);
  }
  return { type: type || 'text/plain', params };
}

export function header(entity: { headers: HeaderField[] }, name: string): string | undefined {
  const lower = name.toLowerCase();
  return entity.headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

/**
 * The parts of a multipart body, each the exact bytes between delimiters (the CRLF before a
 * delimiter belongs to it, RFC 2046 §5.1.1). Null when the closing delimiter is missing.
 */
export function multipartParts(body: Buffer, boundary: string): Buffer[] | null {
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  const starts: { at: number; lineEnd: number; close: boolean }[] = [];
  let from = 0;
  for (;;) {
    const at = text.indexOf(delimiter, from);
    if (at < 0) break;
    from = at + delimiter.length;
    const atLineStart = at === 0 || text.slice(at - 2, at) === '\r\n';
    if (!atLineStart) continue;
    const eol = text.indexOf('\r\n', from);
    const rest = text.slice(from, eol < 0 ? text.length : eol);
    const close = rest.startsWith('--');
    // Only transport padding may follow the boundary on its line.
    if (!/^[ \t]*$/.test(close ? rest.slice(2) : rest)) continue;
    starts.push({ at: at === 0 ? 0 : at - 2, lineEnd: eol < 0 ? text.length : eol + 2, close });
    if (close) break;
  }
  if (!starts.length || !starts.at(-1)!.close) return null;
  const parts: Buffer[] = [];
  for (let i = 0; i + 1 < starts.length; i++) parts.push(body.subarray(starts[i].lineEnd, starts[i + 1].at));
  return parts;
}

/** A boundary no part contains (random, RFC 2046 bchars only). */
export function newBoundary(): string {
  return `=-sealgate-${randomBytes(18).toString('base64url').replace(/[-_]/g, '0')}`;
}

/** Header lines we write: checked bytes; 8-bit only when the message already carried it (RFC 6532). */
export function line(name: string, value: string, utf8 = false): Buffer {
  return encodeHeaderLine(name, value, { utf8 });
}

export function has8bit(text: string): boolean {
  return /[\x80-\xff]/.test(text);
}

/** A header field as it arrived, folds included, with its CRLF. */
export function rawLine(field: HeaderField): Buffer {
  if (/[\0]|\r(?!\n)|(?<!\r)\n/.test(field.raw)) {
    throw new MailError(550, '5.6.0', `The ${field.name} header carries a control character; the message cannot be protected`, 'e2e');
  }
  return Buffer.from(`${field.raw}\r\n`, 'latin1');
}

export function multipart(contentType: Buffer[], preamble: string, parts: Buffer[], boundary: string): Buffer {
  const chunks: Buffer[] = [...contentType, Buffer.from('\r\n')];
  if (preamble) chunks.push(Buffer.from(`${preamble}\r\n`));
  for (const part of parts) {
    if (part.includes(`--${boundary}`)) throw new MailError(451, '4.3.0', 'Local error in processing: a MIME boundary collided; try again', 'e2e');
    chunks.push(Buffer.from(`--${boundary}\r\n`), part, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** Quoted-string for a parameter value (RFC 2045 §5.1). */
export function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** The same Content-Type value with one parameter set (or removed when `value` is null). */
export function withParam(contentTypeValue: string | undefined, name: string, value: string | null): string {
  const { type, params } = parseContentType(contentTypeValue ?? 'text/plain; charset=us-ascii');
  if (!contentTypeValue) params.set('charset', 'us-ascii');
  if (value === null) params.delete(name);
  else params.set(name, value);
  return [type, ...[...params].map(([k, v]) => `${k}=${/^[A-Za-z0-9!#$&^_.+-]+$/.test(v) ? v : quoted(v)}`)].join('; ');
}
