export interface HeaderField {
  name: string;
  value: string;
  /** The field as it appeared, folds included, without its final line break. */
  raw: string;
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * Index just past the blank line ending the header block (CRLFCRLF, or LFLF from lenient
 * sources), or null if it has not arrived yet. A message starting with a blank line has no
 * headers at all.
 */
export function splitHeaderBlock(buf: Buffer): { headerEnd: number } | null {
  if (buf.length >= 1 && buf[0] === LF) return { headerEnd: 1 };
  if (buf.length >= 2 && buf[0] === CR && buf[1] === LF) return { headerEnd: 2 };
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return null;
  // Whichever blank line comes first ends the block.
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { headerEnd: crlf + 4 };
  return { headerEnd: lf + 2 };
}

// RFC 5322 §2.2: field names are printable US-ASCII except ':'.
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/**
 * Unfolds and splits a header block. Stops at the first blank line (the body is not
 * headers); lines that are not `name: value`, and stray continuation lines before the
 * first field, are skipped rather than thrown on — this parses hostile input.
 */
export function parseHeaders(headerText: string): HeaderField[] {
  const fields: HeaderField[] = [];
  let current: string | null = null;
  const push = (): void => {
    if (current === null) return;
    const colon = current.indexOf(':');
    // Obsolete syntax (RFC 5322 §4.5) allows blanks before the colon.
    const name = colon > 0 ? current.slice(0, colon).replace(/[ \t]+$/, '') : '';
    if (FIELD_NAME.test(name)) {
      // Unfolding removes the line breaks only; the blanks after them stay.
      const value = current.slice(colon + 1).replace(/\r?\n/g, '').trim();
      fields.push({ name, value, raw: current });
    }
    current = null;
  };
  for (const line of headerText.split(/\r?\n/)) {
    if (line === '') break;
    if (line[0] === ' ' || line[0] === '\t') {
      if (current !== null) current += `\r\n${line}`;
      continue;
    }
    push();
    current = line;
  }
  push();
  return fields;
}

/** The first field's unfolded value, matching the name case-insensitively. */
export function getHeader(headers: readonly HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

export function countHeaders(headers: readonly HeaderField[], name: string): number {
  const lower = name.toLowerCase();
  let count = 0;
  for (const h of headers) if (h.name.toLowerCase() === lower) count++;
  return count;
}
