/**
 * The `Authentication-Results` fields a message carries (RFC 8601): what each receiver on the
 * way recorded for SPF, DKIM, DMARC and ARC. They are claims of whoever wrote them; only the
 * one our own host wrote (and stripped from arriving mail) is ours to trust.
 */
import { authservIdOf, withoutComments } from './controls.ts';
import { parseHeaders } from './headers.ts';

export interface RecordedResult {
  method: string;
  result: string;
  /** `smtp.mailfrom=…`, `header.from=…`, `header.d=…` and the like, as written. */
  properties: Record<string, string>;
}

export interface RecordedAuthResults {
  /** The receiver that wrote it (RFC 8601 §2.5); null when the field names none (Microsoft 365 writes none). */
  authservId: string | null;
  results: RecordedResult[];
}

const RESULT = /^([a-z0-9-]+)\s*=\s*([a-z0-9-]+)/i;
const PROPERTY = /([a-z0-9-]+\.[a-z0-9-]+)\s*=\s*("[^"]*"|[^\s;]+)/gi;

/** One field's value (unfolded). */
export function parseAuthResults(raw: string): RecordedAuthResults {
  const value = withoutComments(raw.slice(raw.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' '));
  const parts = value.split(';').map((p) => p.trim()).filter(Boolean);
  // `dkim=none …;dmarc=none …` (no authserv-id first) is what Microsoft 365 writes.
  const named = parts.length > 0 && !RESULT.test(parts[0]);
  const results: RecordedResult[] = [];
  for (const part of named ? parts.slice(1) : parts) {
    const m = RESULT.exec(part);
    if (!m || m[1].toLowerCase() === 'none') continue;
    const properties: Record<string, string> = {};
    for (const p of part.slice(m[0].length).matchAll(PROPERTY)) properties[p[1].toLowerCase()] = p[2].replace(/^"|"$/g, '');
    results.push({ method: m[1].toLowerCase(), result: m[2].toLowerCase(), properties });
  }
  return { authservId: named ? authservIdOf(raw) || null : null, results };
}

/** Every `Authentication-Results` field of a header block, top (newest) first. */
export function recordedAuthResults(headerText: string): RecordedAuthResults[] {
  return parseHeaders(headerText)
    .filter((f) => f.name.toLowerCase() === 'authentication-results')
    .map((f) => parseAuthResults(f.raw));
}
