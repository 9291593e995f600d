/**
 * The few MIME operations S/MIME needs, on raw bytes so signed parts stay byte-exact:
 * split a message into header fields and body, read Content-Type parameters, find the parts
 * of a multipart/signed. Hand-written because mailparser decodes (and so changes) what a
 * signature covers; header fields come from `mail/`'s parser.
 */
import { parseHeaders } from '../../mail/index.ts';
import { toCrlf } from '../crlf.ts';
import type { HeaderField } from '../../mail/index.ts';

export interface Entity {
  fields: HeaderField[];
  body: Buffer;
}

/** Line ends as CRLF (RFC 8551 §3.1.1 canonical form; the SMTP path gives us CRLF already). */
export function canonicalCrlf(bytes: Uint8Array): Buffer {
  return toCrlf(bytes, false);
}

export function splitEntity(bytes: Uint8Array): Entity {
  const text = canonicalCrlf(bytes);
  const end = text.indexOf('\r\n\r\n');
  const headerText = end === -1 ? text.toString('latin1') : text.subarray(0, end).toString('latin1');
  const body = end === -1 ? Buffer.alloc(0) : text.subarray(end + 4);
  if (text.subarray(0, 2).toString('latin1') === '\r\n') return { fields: [], body: text.subarray(2) };
  return { fields: parseHeaders(headerText), body };
}

export function joinEntity(fields: readonly string[], body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(fields.map((f) => `${f}\r\n`).join('') + '\r\n', 'latin1'), body]);
}

export function field(fields: readonly HeaderField[], name: string): HeaderField | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower);
}

/** Content-* and MIME-Version: the fields that describe a body rather than the message. */
export function isContentField(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('content-') || lower === 'mime-version';
}

export interface ContentType {
  type: string;
  params: Record<string, string>;
}

/** `type/subtype; a=b; c="d"` (RFC 2045 §5.1; no RFC 2231 continuations, S/MIME does not use them). */
export function parseContentType(value: string | undefined): ContentType {
  if (!value) return { type: 'text/plain', params: {} };
  const [head, ...rest] = value.split(/;(?=(?:[^"]*"[^"]*")*[^"]*$)/);
  const params: Record<string, string> = {};
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    let val = part.slice(eq + 1).trim();
    if (val.startsWith('"') && val.endsWith('"')) val = val.slice(1, -1).replace(/\\(.)/g, '$1');
    params[key] = val;
  }
  return { type: head.trim().toLowerCase(), params };
}

/** The raw bytes of each part of a multipart body (without the CRLF before each delimiter). */
export function multipartParts(body: Buffer, boundary: string): Buffer[] {
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  const parts: Buffer[] = [];
  let start = -1;
  let position = 0;
  for (;;) {
    const at = text.indexOf(delimiter, position);
    if (at === -1) break;
    const lineStart = at === 0 || text.slice(at - 2, at) === '\r\n';
    if (!lineStart) {
      position = at + delimiter.length;
      continue;
    }
    if (start !== -1) parts.push(body.subarray(start, at === 0 ? 0 : at - 2));
    const closing = text.startsWith('--', at + delimiter.length);
    if (closing) return parts;
    const eol = text.indexOf('\r\n', at);
    if (eol === -1) break;
    start = eol + 2;
    position = start;
  }
  throw new Error('the multipart body has no closing delimiter');
}

export function base64Lines(bytes: Uint8Array): string {
  const encoded = Buffer.from(bytes).toString('base64');
  return (encoded.match(/.{1,76}/g) ?? []).join('\r\n');
}

export function decodeBase64Body(body: Buffer): Uint8Array {
  return new Uint8Array(Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'));
}

/** The bare address of a From-like value: `Name <a@b>` → `a@b`. */
export function bareAddress(value: string | undefined): string | null {
  if (!value) return null;
  const angle = /<([^<>]+)>/.exec(value);
  const address = (angle ? angle[1] : value).trim();
  return address.includes('@') ? address.toLowerCase() : null;
}
