/**
 * Reads a message's `Received` chain (RFC 5321 §4.4, RFC 5322 §3.6.7) hop by hop and says what
 * each stamp tells about TLS: the clause forms of Postfix, Exim, Sendmail (and Proofpoint),
 * Microsoft 365/Exchange, Gmail, Stalwart and our own builder (received.ts), and the RFC 3848
 * `with` keywords. Pure: the DKIM/ARC re-check that needs DNS lives in auth/.
 *
 * What a stamp says is the writer's claim; every hop below the first one we trust may be forged
 * by the sender. The verdict reads them as written and says so.
 */
import { parseHeaders } from './headers.ts';
import { parseTraceDate } from './trace-date.ts';

export interface TraceTls {
  /** As `TLSv1.3`, whatever spelling the stamp used (`TLS1_3`, `TLS1.3`); null when it names none. */
  version: string | null;
  cipher: string | null;
}

/** How a hop travelled: over TLS, in the clear, not over a network between hosts, or unknown. */
export type HopTransport = 'tls' | 'plain' | 'local' | 'unknown';

export interface TraceHop {
  /** 1 for the oldest hop (the bottom `Received` field). */
  index: number;
  from: string | null;
  /** The client address the receiving host recorded (the TCP-info of the from clause). */
  fromIp: string | null;
  by: string | null;
  /** The `with` clause (protocol) as written: `ESMTPS`, `esmtpsa`, `Microsoft SMTP Server`, `mapi`… */
  with: string | null;
  via: string | null;
  id: string | null;
  tls: TraceTls | null;
  /** The first word of `with`: the RFC 3848 keyword when there is one. */
  protocol: string | null;
  transport: HopTransport;
  reasonCode: HopReason;
  /** Why this hop counts as it does, in English. */
  reason: string;
  /** The stamp's date as an ISO string (UTC), or null when it has none we can read. */
  time: string | null;
  /** Seconds since the previous (older) hop's date; null for the first hop or an unreadable date. */
  delaySeconds: number | null;
  /** The field as found, unfolded. */
  raw: string;
}

export type TraceVerdict = 'tls-on-every-hop' | 'tls-on-some-hops' | 'not-knowable';

export interface TraceAnalysis {
  /** Oldest first, one per `Received` field. */
  hops: TraceHop[];
  verdict: TraceVerdict;
  /** Hops between hosts (not `local`) and how many of them used TLS. */
  networkHops: number;
  tlsHops: number;
  /** Network hops whose stamp does not say whether TLS was used. */
  unknownHops: number;
  /** One sentence: "TLS on every hop (3)", "TLS on 2 of 4 hops", "not knowable: …". */
  summary: string;
}

interface Clause {
  keyword: string;
  words: string[];
  comments: string[];
}

interface Token {
  kind: 'atom' | 'comment';
  text: string;
}

const KEYWORDS = new Set(['from', 'by', 'via', 'with', 'id', 'for', 'tls']);

/** Atoms (quoted strings, `<…>` and `[…]` kept whole) and comments with their nesting, CFWS dropped. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (c === '(') {
      let depth = 0;
      let j = i;
      for (; j < text.length; j++) {
        const d = text[j];
        if (d === '\\') j++;
        else if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
      }
      tokens.push({ kind: 'comment', text: text.slice(i + 1, j).trim() });
      i = j + 1;
      continue;
    }
    const closer = c === '"' ? '"' : c === '<' ? '>' : c === '[' ? ']' : '';
    let j = i + 1;
    if (closer) {
      while (j < text.length && text[j] !== closer) j += text[j] === '\\' ? 2 : 1;
      j++;
    }
    while (j < text.length && !/[\s()]/.test(text[j])) j++;
    tokens.push({ kind: 'atom', text: text.slice(i, j) });
    i = j;
  }
  return tokens;
}

/** Index of the `;` before the date: the last one outside comments and quotes. */
function dateSeparator(value: string): number {
  let depth = 0;
  let quoted = false;
  let last = -1;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') i++;
    else if (quoted) quoted = c !== '"';
    else if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === ';' && depth === 0) last = i;
  }
  return last;
}

function clausesOf(text: string): { clauses: Clause[]; leading: string[] } {
  const clauses: Clause[] = [];
  const leading: string[] = [];
  for (const token of tokenize(text)) {
    const current = clauses[clauses.length - 1];
    // A keyword right after a keyword is that clause's value: a host may be named `id` or `by`.
    const awaitingValue = current !== undefined && current.words.length === 0 && current.comments.length === 0;
    if (token.kind === 'atom' && KEYWORDS.has(token.text.toLowerCase()) && !awaitingValue) clauses.push({ keyword: token.text.toLowerCase(), words: [], comments: [] });
    else if (!current) {
      if (token.kind === 'comment') leading.push(token.text);
    } else if (token.kind === 'comment') current.comments.push(token.text);
    else current.words.push(token.text);
  }
  return { clauses, leading };
}

const IP_LITERAL = /\[(?:IPv6:)?([0-9A-Fa-f:.]+)(?:%[^\]]*)?\]/;
const BARE_IP = /^((?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+)(?:%\S*)?$/;

/** The client address in a from clause: `[192.0.2.1]` (Postfix, Exim, Sendmail), or a bare `(2603:…)` (Microsoft). */
function clientAddress(from: Clause | undefined): string | null {
  if (!from) return null;
  for (const part of [...from.comments, ...from.words]) {
    const literal = IP_LITERAL.exec(part);
    if (literal) return literal[1];
    const bare = BARE_IP.exec(part.trim());
    if (bare) return bare[1];
  }
  return null;
}

function isLoopback(ip: string | null, host: string | null): boolean {
  if (ip) return /^127\./.test(ip) || ip === '::1' || /^::ffff:127\./i.test(ip);
  return host?.toLowerCase() === 'localhost';
}

/** `TLSv1.3` for `TLS1_3`, `TLS1.3`, `TLSv1.3`; SSL versions alike; anything else as written. */
function normalizeVersion(version: string): string {
  const m = /^(TLS|SSL)v?(\d)[._]?(\d)?$/i.exec(version);
  return m ? `${m[1].toUpperCase()}v${m[2]}${m[3] !== undefined ? `.${m[3]}` : ''}` : version;
}

const CIPHER = '([A-Za-z0-9_-]+)';
const VERSION = '((?:TLS|SSL)v?[0-9][0-9._]*)';
/** Postfix, Stalwart and Sealgate: `(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) …)`. */
const USING_CIPHER = new RegExp(`\\busing\\s+${VERSION}\\s+with\\s+cipher\\s+${CIPHER}`, 'i');
/** Sendmail, Proofpoint, Gmail, Mimecast, Microsoft: `(version=TLSv1.3 cipher=…)`, `(version=TLS1_2, cipher=…)`. */
const VERSION_CIPHER = new RegExp(`\\bversion=${VERSION},?\\s+cipher=${CIPHER}`, 'i');
/** Exim before 4.92: `(TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256)`, `(TLSv1.3:TLS_AES_256_GCM_SHA384:256)`. */
const EXIM_COLON = new RegExp(`^${VERSION}:${CIPHER}(?::\\d+)?$`, 'i');
const VERSION_ONLY = new RegExp(`^${VERSION}$`, 'i');

/** What the stamp says about TLS, from its comments and the RFC 8314 `tls` clause. */
function tlsOf(clauses: Clause[], leading: string[]): TraceTls | null {
  const comments = [...leading, ...clauses.flatMap((c) => c.comments)];
  for (const comment of comments) {
    const m = USING_CIPHER.exec(comment) ?? VERSION_CIPHER.exec(comment) ?? EXIM_COLON.exec(comment);
    if (m) return { version: normalizeVersion(m[1]), cipher: m[2] };
  }
  // Exim 4.92+ and RFC 8314 §4.3: `with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384`.
  const tlsClause = clauses.find((c) => c.keyword === 'tls');
  const versionComment = comments.find((c) => VERSION_ONLY.test(c));
  if (tlsClause?.words[0] || versionComment) return { version: versionComment ? normalizeVersion(versionComment) : null, cipher: tlsClause?.words[0] ?? null };
  // Exchange 2010-2013: `with Microsoft SMTP Server (TLS) id 14.3…`.
  if (clauses.some((c) => c.keyword === 'with' && c.comments.some((x) => /^TLS$/i.test(x)))) return { version: null, cipher: null };
  return null;
}

// RFC 3848 (and RFC 6531 for UTF8…): the keywords that mean TLS, and those that mean none.
const TLS_PROTOCOLS = /^(?:UTF8)?(?:E?SMTPSA?|LMTPSA?)$/i;
const PLAIN_PROTOCOLS = /^(?:UTF8)?(?:E?SMTPA?|LMTPA?)$/i;
/** Not SMTP between hosts: local submission (Exim `local`, `local-esmtp`), webmail (`HTTP`), Outlook to Exchange (`mapi`). */
const NOT_NETWORK = /^(?:local(?:-\w+)?|mapi|https?|pipe)$/i;

/** Why a hop counts as it does; `reasonText` says it in English, the portal in the reader's language. */
export type HopReason = 'no-sending-host' | 'loopback' | 'not-smtp' | 'tls-recorded' | 'tls-keyword' | 'plain-keyword' | 'microsoft-no-tls' | 'no-protocol' | 'unknown-protocol';

function classify(hop: { from: string | null; fromIp: string | null; protocol: string | null; with: string | null; tls: TraceTls | null }): { transport: HopTransport; reasonCode: HopReason } {
  const protocol = hop.protocol ?? '';
  if (!hop.from) return { transport: 'local', reasonCode: 'no-sending-host' };
  if (isLoopback(hop.fromIp, hop.from)) return { transport: 'local', reasonCode: 'loopback' };
  if (NOT_NETWORK.test(protocol)) return { transport: 'local', reasonCode: 'not-smtp' };
  if (hop.tls) return { transport: 'tls', reasonCode: 'tls-recorded' };
  if (TLS_PROTOCOLS.test(protocol)) return { transport: 'tls', reasonCode: 'tls-keyword' };
  if (PLAIN_PROTOCOLS.test(protocol)) return { transport: 'plain', reasonCode: 'plain-keyword' };
  if (/^Microsoft SMTP Server$/i.test(hop.with ?? '')) return { transport: 'plain', reasonCode: 'microsoft-no-tls' };
  return { transport: 'unknown', reasonCode: protocol ? 'unknown-protocol' : 'no-protocol' };
}

/** The reason of a hop in English (the CLI's words). */
export function reasonText(hop: Pick<TraceHop, 'reasonCode' | 'protocol' | 'tls'>): string {
  const protocol = hop.protocol ?? '';
  switch (hop.reasonCode) {
    case 'no-sending-host': return 'no sending host named: the message was handed over on this host (submission, pickup or a list expansion)';
    case 'loopback': return 'from the same host (loopback), not over a network';
    case 'not-smtp': return `with ${protocol}: not SMTP between hosts`;
    case 'tls-recorded': {
      const named = [hop.tls?.version, hop.tls?.cipher].filter(Boolean).join(' ');
      return named ? `the stamp records ${named}` : 'the stamp records TLS';
    }
    case 'tls-keyword': return `with ${protocol} means TLS (RFC 3848); no version or cipher recorded`;
    case 'plain-keyword': return `with ${protocol} means no TLS (RFC 3848)`;
    case 'microsoft-no-tls': return 'Microsoft SMTP Server without a TLS version: not encrypted';
    case 'no-protocol': return 'the stamp names no protocol (no with clause)';
    case 'unknown-protocol': return `with ${protocol}: a protocol that does not say whether TLS was used`;
  }
}

/** One `Received` field value (unfolded), without the date's delay (see analyzeTrace). */
export function parseReceived(value: string, index = 1): TraceHop {
  const split = dateSeparator(value);
  const clauseText = split < 0 ? value : value.slice(0, split);
  const date = split < 0 ? null : parseTraceDate(value.slice(split + 1));
  const { clauses, leading } = clausesOf(clauseText);
  const first = (keyword: string) => clauses.find((c) => c.keyword === keyword);
  const word = (keyword: string) => first(keyword)?.words.join(' ') || null;
  // RFC 5321 §4.4 puts `from` first; a later one (`by outflank-mailman (output) from mailman`) names no SMTP client.
  const fromClause = clauses[0]?.keyword === 'from' ? clauses[0] : undefined;
  const tls = tlsOf(clauses, leading);
  const parsed = {
    from: fromClause?.words[0] ?? null,
    fromIp: clientAddress(fromClause),
    by: first('by')?.words[0] ?? null,
    with: word('with'),
    via: word('via'),
    id: first('id')?.words[0] ?? null,
    tls,
  };
  const protocol = parsed.with?.split(/\s+/)[0] ?? null;
  const { transport, reasonCode } = classify({ ...parsed, protocol });
  const hop = { index, ...parsed, protocol, transport, reasonCode };
  return { ...hop, reason: reasonText(hop), time: date === null ? null : new Date(date).toISOString(), delaySeconds: null, raw: value };
}

function summaryOf(hops: TraceHop[]): Pick<TraceAnalysis, 'verdict' | 'networkHops' | 'tlsHops' | 'unknownHops' | 'summary'> {
  const network = hops.filter((h) => h.transport !== 'local');
  const tlsHops = network.filter((h) => h.transport === 'tls').length;
  const plain = network.filter((h) => h.transport === 'plain').length;
  const unknown = network.filter((h) => h.transport === 'unknown');
  const counts = { networkHops: network.length, tlsHops, unknownHops: unknown.length };
  // A hop in the clear settles the question; unknown hops only leave it open when the rest were TLS.
  if (plain > 0) {
    const open = unknown.length ? ` (${unknown.length} not knowable)` : '';
    return { verdict: 'tls-on-some-hops', ...counts, summary: `TLS on ${tlsHops} of ${network.length} hops${open}` };
  }
  if (unknown.length > 0) return { verdict: 'not-knowable', ...counts, summary: `not knowable: ${unknown.map((h) => `hop ${h.index}: ${h.reason}`).join('; ')}` };
  if (network.length === 0) return { verdict: 'not-knowable', ...counts, summary: hops.length ? 'not knowable: no hop between hosts is recorded' : 'not knowable: the message has no Received fields' };
  return { verdict: 'tls-on-every-hop', ...counts, summary: `TLS on every hop (${network.length})` };
}

/**
 * More `Received` fields than this is a mail loop (RFC 5321 §6.3: "normally at least 100"), not
 * a path anyone asks about; each hop is a table row, so 1 MB of short fields was ~90,000 rows
 * (a 34 MB page). The gateway itself refuses mail past limits.maxReceivedHeaders (50).
 */
export const MAX_TRACE_HOPS = 100;

/** The input is past what the analysis reads; the message says by how much, for a person. */
export class TraceLimitError extends Error {
  override readonly name = 'TraceLimitError';
  readonly limit: { what: 'received-fields' | 'header-kb'; count: number; max: number };
  constructor(message: string, limit: TraceLimitError['limit']) {
    super(message);
    this.limit = limit;
  }
}

/** The chain of a message's header block (the body, if present, is ignored). Throws TraceLimitError past MAX_TRACE_HOPS. */
export function analyzeTrace(headerText: string): TraceAnalysis {
  const fields = parseHeaders(headerText).filter((f) => f.name.toLowerCase() === 'received');
  if (fields.length > MAX_TRACE_HOPS) {
    throw new TraceLimitError(`the message has ${fields.length} Received fields; at most ${MAX_TRACE_HOPS} are analysed (more is a mail loop, RFC 5321 §6.3)`, { what: 'received-fields', count: fields.length, max: MAX_TRACE_HOPS });
  }
  const hops = fields.reverse().map((field, i) => parseReceived(field.value, i + 1));
  for (let i = 1; i < hops.length; i++) {
    const [before, now] = [hops[i - 1].time, hops[i].time];
    if (before && now) hops[i].delaySeconds = Math.round((Date.parse(now) - Date.parse(before)) / 1000);
  }
  return { hops, ...summaryOf(hops) };
}
