/**
 * Header protection, RFC 9788: the Cryptographic Payload carries the message's real header
 * fields (Subject, From, To, Date, Message-ID, …) and `hp="cipher"` (encrypted) or `hp="clear"`
 * (signed only) on its Content-Type, plus one `HP-Outer` field per header field the outside
 * shows; an encrypted message's outer Subject is obscured as `...`. Unprotecting puts the inner
 * fields back as the message's own. Shared by OpenPGP and any other kind that wraps a whole entity.
 */
import type { HeaderField } from '../../mail/index.ts';
import { messageWithoutLegacyDisplay } from '../smime/legacy-display.ts';
import { canonicalCrlf, has8bit, header, line, parseContentType, rawLine, splitEntity, withParam, type Entity } from './mime.ts';

/** Part of the entity, not of the message: they stay on the Cryptographic Payload. */
function isContentField(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('content-') || lower === 'mime-version';
}

/** Transport and trace fields: added on the way, never protected, kept outside. */
const TRACE = new Set(['received', 'return-path', 'x-received', 'dkim-signature', 'arc-seal', 'arc-message-signature', 'arc-authentication-results', 'authentication-results', 'delivered-to', 'x-original-to']);
/** Obscured outside an encrypted message (the rest stays for delivery and threading). */
const OBSCURED_SUBJECT = '...';
const DROPPED_OUTSIDE_WHEN_ENCRYPTED = new Set(['comments', 'keywords', 'user-agent', 'x-mailer']);

export interface Wrapped {
  /** The Cryptographic Payload: the entity to sign or encrypt, CRLF throughout. */
  payload: Buffer;
  /** Header lines for the outside of the protected message, without Content-Type and MIME-Version. */
  outer: Buffer[];
  /** Whether the original header block carried 8-bit text (RFC 6532). */
  utf8: boolean;
}

export function wrapForProtection(message: Uint8Array, mode: 'cipher' | 'clear'): Wrapped {
  const entity = splitEntity(canonicalCrlf(message));
  const utf8 = entity.headers.some((h) => has8bit(h.raw));
  const messageFields = entity.headers.filter((h) => !isContentField(h.name) && h.name.toLowerCase() !== 'hp-outer');
  const protectedFields = messageFields.filter((h) => !TRACE.has(h.name.toLowerCase()));
  const outer: Buffer[] = [];
  const hpOuter: Buffer[] = [];
  for (const field of messageFields) {
    const lower = field.name.toLowerCase();
    if (mode === 'cipher' && !TRACE.has(lower)) {
      if (DROPPED_OUTSIDE_WHEN_ENCRYPTED.has(lower)) continue;
      if (lower === 'subject') {
        outer.push(line('Subject', OBSCURED_SUBJECT));
        hpOuter.push(line('HP-Outer', `Subject: ${OBSCURED_SUBJECT}`));
        continue;
      }
    }
    outer.push(rawLine(field));
    if (!TRACE.has(lower)) hpOuter.push(line('HP-Outer', `${field.name}: ${field.value}`, utf8));
  }
  if (mode === 'cipher' && !messageFields.some((h) => h.name.toLowerCase() === 'subject')) {
    // RFC 9788 §4.2.1: an obscured Subject is there even when the original had none.
    outer.push(line('Subject', OBSCURED_SUBJECT));
  }
  const contentFields = entity.headers.filter((h) => isContentField(h.name) && h.name.toLowerCase() !== 'mime-version' && h.name.toLowerCase() !== 'content-type');
  const contentType = header(entity, 'Content-Type');
  const payloadHeaders = [
    line('Content-Type', withParam(contentType, 'hp', mode), utf8 && has8bit(contentType ?? '')),
    ...contentFields.map(rawLine),
    ...protectedFields.map(rawLine),
    ...hpOuter,
  ];
  return { payload: Buffer.concat([...payloadHeaders, Buffer.from('\r\n'), entity.body]), outer, utf8 };
}

/**
 * The message the mailbox should get: the outside's trace fields, then the payload's fields
 * (the protected ones win; `HP-Outer` and the `hp` marker dropped, since the result is no
 * longer protected), then the payload's body: the decrypted entity stays one whole entity.
 */
export function unwrapProtected(outerFields: HeaderField[], payload: Uint8Array): Buffer {
  const inner: Entity = splitEntity(canonicalCrlf(payload));
  const hp = parseContentType(header(inner, 'Content-Type')).params.get('hp');
  const lines: Buffer[] = [];
  if (hp === 'cipher' || hp === 'clear') {
    const innerNames = new Set(inner.headers.map((h) => h.name.toLowerCase()));
    for (const field of outerFields) {
      const lower = field.name.toLowerCase();
      if (isContentField(lower) || lower === 'hp-outer' || innerNames.has(lower)) continue;
      // An obscured outer Subject is not the message's subject.
      if (lower === 'subject' && hp === 'cipher') continue;
      lines.push(rawLine(field));
    }
    lines.push(line('MIME-Version', '1.0'));
    for (const field of inner.headers) {
      const lower = field.name.toLowerCase();
      if (lower === 'hp-outer' || lower === 'mime-version') continue;
      if (lower === 'content-type') lines.push(line('Content-Type', withParam(field.value, 'hp', null), has8bit(field.value)));
      else lines.push(rawLine(field));
    }
  } else {
    // A sender without header protection (plain RFC 3156): the outside's fields, the inside's content fields.
    const innerNames = new Set(inner.headers.map((h) => h.name.toLowerCase()));
    for (const field of outerFields) if (!isContentField(field.name) && !innerNames.has(field.name.toLowerCase())) lines.push(rawLine(field));
    lines.push(line('MIME-Version', '1.0'));
    for (const field of inner.headers) if (field.name.toLowerCase() !== 'mime-version') lines.push(rawLine(field));
  }
  const message = Buffer.concat([...lines, Buffer.from('\r\n'), inner.body]);
  // RFC 9788 §4.5.3: the decorative copy of the obscured fields goes with the encryption layer.
  return hp === 'cipher' ? messageWithoutLegacyDisplay(message) : message;
}
