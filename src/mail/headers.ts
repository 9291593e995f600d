export interface HeaderField {
  name: string;
  value: string;
  raw: string;
}

/** Index just past the blank line ending the header block, or null if it has not arrived. */
export function splitHeaderBlock(buf: Buffer): { headerEnd: number } | null {
  if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) return { headerEnd: 2 }; // no headers at all
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return null;
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { headerEnd: crlf + 4 };
  return { headerEnd: lf + 2 };
}

/** Unfolds and splits a header block; lines that are not `name: value` are skipped. */
export function parseHeaders(headerText: string): HeaderField[] {
  const fields: HeaderField[] = [];
  const lines = headerText.split(/\r?\n/);
  let current: string | null = null;
  const push = () => {
    if (current === null) return;
    const colon = current.indexOf(':');
    if (colon > 0) {
      const name = current.slice(0, colon).trim();
      if (/^[\x21-\x39\x3b-\x7e]+$/.test(name)) {
        fields.push({ name, value: current.slice(colon + 1).replace(/\r?\n/g, '').trim(), raw: current });
      }
    }
    current = null;
  };
  for (const line of lines) {
    if (line === '') {
      push();
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && current !== null) {
      current += `\r\n${line}`;
      continue;
    }
    push();
    current = line;
  }
  push();
  return fields;
}

export function getHeader(headers: HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find((h) => h.name.toLowerCase() === lower)?.value;
}

export function countHeaders(headers: HeaderField[], name: string): number {
  const lower = name.toLowerCase();
  return headers.filter((h) => h.name.toLowerCase() === lower).length;
}
