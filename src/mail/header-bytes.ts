import { MailError } from '../kernel/index.ts';

// RFC 5322 §2.2: field names are printable US-ASCII except ':'.
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
const SOFT_LIMIT = 78; // RFC 5322 §2.1.1: SHOULD NOT exceed 78 characters
const CR = 0x0d;
const LF = 0x0a;

export interface HeaderEncodingOptions {
  /**
   * RFC 6532 allows UTF-8 in headers of a message sent with SMTPUTF8. Off by default:
   * every header we write is then ASCII (anything else must arrive as RFC 2047 words).
   */
  utf8?: boolean;
}

/** Bytes that must never appear inside a header field we write: NUL, bare CR or LF, other C0 controls except TAB, DEL. */
function forbiddenByte(bytes: Buffer, utf8: boolean): number {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if ((b < 0x20 && b !== 0x09) || b === 0x7f || (!utf8 && b > 0x7f)) return i;
  }
  return -1;
}

/** Greedy fold at blanks so lines stay near 78 characters; a word longer than that stays whole. */
function foldSegment(segment: string, firstLineUsed: number): string {
  const words = segment.split(' ');
  let out = '';
  let used = firstLineUsed;
  for (const word of words) {
    if (out === '') {
      out = word;
      used += word.length;
    } else if (used + 1 + word.length > SOFT_LIMIT) {
      out += `\r\n\t${word}`;
      used = 1 + word.length;
    } else {
      out += ` ${word}`;
      used += 1 + word.length;
    }
  }
  return out;
}

/**
 * One header field as wire bytes, `Name: value` folded and ending in CRLF. `value` is one
 * logical line, or a list of segments each starting a continuation line (our Received:
 * layout). Encoded first, then checked as bytes: whatever a string held (U+010A included),
 * no CR, LF or NUL reaches the message except the folds written here (docs/architecture.md §9).
 */
export function encodeHeaderLine(name: string, value: string | readonly string[], options: HeaderEncodingOptions = {}): Buffer {
  if (!FIELD_NAME.test(name)) throw new MailError(451, '4.3.0', 'Local error in processing: a header name is not valid; try again later', 'mail');
  const segments = (typeof value === 'string' ? [value] : value).map((s) => s.replace(/[ \t]+/g, ' ').trim()).filter((s) => s !== '');
  const folded = segments.map((segment, i) => foldSegment(segment, i === 0 ? name.length + 2 : 1)).join('\r\n\t');
  const bytes = Buffer.from(`${name}: ${folded}`, 'utf8');
  // The only CR and LF allowed are the CRLF+TAB folds we wrote: check each line between them.
  let start = 0;
  for (;;) {
    const fold = bytes.indexOf('\r\n\t', start);
    const line = bytes.subarray(start, fold < 0 ? bytes.length : fold);
    if (forbiddenByte(line, options.utf8 === true) >= 0) {
      throw new MailError(451, '4.3.0', `Local error in processing: the ${name} header would carry a control character or undeclared 8-bit data; try again later`, 'mail');
    }
    if (fold < 0) break;
    start = fold + 3;
  }
  return Buffer.concat([bytes, Buffer.from([CR, LF])]);
}
