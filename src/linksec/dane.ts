import { createHash, createPublicKey, timingSafeEqual, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * DANE certificate matching for SMTP (RFC 6698, RFC 7671, RFC 7672). Pure: the caller
 * fetches the DNSSEC-validated TLSA records and the peer's chain; this decides whether they match.
 */

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

export type DaneUsability = { usable: true; records: TlsaRecord[] } | { usable: false; reason: string };

export interface DaneMatch {
  matched: boolean;
  usage?: number;
  selector?: number;
  matchingType?: number;
  depth?: number;
  reason: string;
}

const DANE_TA = 2;
const DANE_EE = 3;
// Matching type → digest length; 0 (Full) has none.
const DIGEST_LENGTH: Record<number, number> = { 1: 32, 2: 64 };

function label(record: TlsaRecord): string {
  return `TLSA ${record.usage} ${record.selector} ${record.matchingType}`;
}

/** Why a record cannot be used for SMTP, or null when it can. */
function unusableBecause(record: TlsaRecord): string | null {
  if (record.usage !== DANE_TA && record.usage !== DANE_EE) {
    return `usage ${record.usage} is not usable for SMTP (only 2 DANE-TA and 3 DANE-EE are, RFC 7672 §3.1.3)`;
  }
  if (record.selector !== 0 && record.selector !== 1) return `selector ${record.selector} is unknown`;
  if (record.matchingType !== 0 && record.matchingType !== 1 && record.matchingType !== 2) {
    return `matching type ${record.matchingType} is unknown`;
  }
  const expected = DIGEST_LENGTH[record.matchingType];
  // RFC 7671 §10.1.2: a digest of the wrong length is malformed and can never match.
  if (expected !== undefined && record.data.length !== expected) {
    return `its digest is ${record.data.length} bytes, expected ${expected}`;
  }
  if (record.data.length === 0) return 'its data is empty';
  return null;
}

/**
 * RFC 7672 §3.1.3: only DANE-TA(2) and DANE-EE(3) with known selectors and matching types
 * count. When none is left, DANE authentication is impossible; the caller still treats the MX
 * as DANE-protected (TLS stays mandatory, RFC 7672 §2.2).
 */
export function usableTlsaRecords(records: TlsaRecord[]): DaneUsability {
  const usable: TlsaRecord[] = [];
  const rejected: string[] = [];
  for (const record of records) {
    const why = unusableBecause(record);
    if (why === null) usable.push(record);
    else rejected.push(`${label(record)}: ${why}`);
  }
  if (usable.length > 0) return { usable: true, records: usable };
  if (records.length === 0) return { usable: false, reason: 'there are no TLSA records' };
  return {
    usable: false,
    reason: `none of the ${records.length} TLSA record(s) is usable for SMTP (${rejected.join('; ')})`,
  };
}

interface ChainEntry {
  der: Buffer;
  cert: X509Certificate | null;
}

function parseChain(chain: Buffer[]): ChainEntry[] {
  return chain.map((der) => {
    try {
      return { der, cert: new X509Certificate(der) };
    } catch {
      return { der, cert: null };
    }
  });
}

/** The bytes a selector picks from a certificate, or null when the key cannot be exported. */
function selectedData(entry: ChainEntry, selector: number): Buffer | null {
  if (selector === 0) return entry.der;
  if (entry.cert === null) return null;
  try {
    return entry.cert.publicKey.export({ type: 'spki', format: 'der' });
  } catch {
    return null;
  }
}

function associationData(selected: Buffer, matchingType: number): Buffer {
  if (matchingType === 1) return createHash('sha256').update(selected).digest();
  if (matchingType === 2) return createHash('sha512').update(selected).digest();
  return selected;
}

function recordMatches(record: TlsaRecord, entry: ChainEntry): boolean {
  const selected = selectedData(entry, record.selector);
  if (selected === null) return false;
  const computed = associationData(selected, record.matchingType);
  return computed.length === record.data.length && timingSafeEqual(computed, record.data);
}

function describeCert(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  return cn ? `"${cn}"` : `"${cert.subject.replace(/\n/g, ', ')}"`;
}

function normaliseName(name: string): string {
  return name.trim().replace(/\.$/, '').toLowerCase();
}

/**
 * Checks the chain from the leaf up to depth `top` (inclusive): each certificate is issued and
 * signed by the next, intermediates are CAs, everything is valid at `now`. The anchor at `top`
 * is trusted through DNSSEC, so only its validity window is checked, and only when it is a
 * whole certificate (selector 0); a bare key (selector 1) has no dates (RFC 7671 §5.2.2).
 * Returns why the chain fails, or null.
 */
function chainProblem(entries: ChainEntry[], top: number, anchorIsCert: boolean, now: Date): string | null {
  for (let depth = 0; depth <= top; depth++) {
    const cert = entries[depth].cert;
    if (cert === null) return `the certificate at depth ${depth} could not be parsed`;
    if (depth < top) {
      const issuer = entries[depth + 1].cert;
      if (issuer === null) return `the certificate at depth ${depth + 1} could not be parsed`;
      if (!cert.checkIssued(issuer)) return `the certificate at depth ${depth} was not issued by the one at depth ${depth + 1}`;
      if (!safeVerify(cert, issuer.publicKey)) return `the signature on the certificate at depth ${depth} does not verify`;
      if (depth + 1 < top && !issuer.ca) return `the certificate at depth ${depth + 1} is not a CA`;
    }
    if (depth === top && !anchorIsCert) break;
    if (now < cert.validFromDate) return `the certificate at depth ${depth} (${describeCert(cert)}) is not valid before ${cert.validFromDate.toISOString()}`;
    if (now > cert.validToDate) return `the certificate at depth ${depth} (${describeCert(cert)}) expired on ${cert.validToDate.toISOString()}`;
  }
  return null;
}

function safeVerify(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.verify(key);
  } catch {
    return false;
  }
}

/** RFC 7672 §3.2.3: the leaf must carry one of the reference identifiers; `*` only as a whole leftmost label. */
function nameProblem(leaf: X509Certificate, names: string[]): string | null {
  const wanted = [...new Set(names.map(normaliseName).filter((n) => n.length > 0))];
  if (wanted.length === 0) return 'no reference name was given to check the certificate against';
  for (const name of wanted) {
    if (leaf.checkHost(name, { wildcards: true, partialWildcards: false, multiLabelWildcards: false }) !== undefined) return null;
  }
  const presented = leaf.subjectAltName ?? leaf.subject.replace(/\n/g, ', ');
  return `the server's certificate (${presented}) is not valid for ${wanted.join(', ')}`;
}

function toKey(spki: Buffer): KeyObject | null {
  try {
    return createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    return null;
  }
}

/**
 * Matches the peer's chain (DER, leaf first) against usable TLSA records.
 * DANE-EE(3): the leaf's selected data matches; names and dates are ignored (RFC 7672 §3.2.1).
 * DANE-TA(2): a certificate at depth ≥ 1 matches and becomes the trust anchor, or a 2 1 0
 * record's full public key signed the top of the presented chain; the chain up to the anchor
 * must then verify, be valid at `now`, and the leaf must carry one of `names` (RFC 7672 §3.2.2).
 */
export function matchDane(chain: Buffer[], records: TlsaRecord[], names: string[], now: Date = new Date()): DaneMatch {
  const usability = usableTlsaRecords(records);
  if (!usability.usable) return { matched: false, reason: usability.reason };
  const usable = usability.records;
  if (chain.length === 0) return { matched: false, reason: 'the server presented no certificate' };
  const entries = parseChain(chain);
  const leaf = entries[0];
  if (leaf.cert === null) return { matched: false, reason: "the server's certificate could not be parsed as X.509 DER" };

  for (const record of usable) {
    if (record.usage !== DANE_EE || !recordMatches(record, leaf)) continue;
    const what = record.selector === 1 ? "the server's public key" : "the server's certificate";
    return { matched: true, usage: record.usage, selector: record.selector, matchingType: record.matchingType, depth: 0, reason: `${label(record)} matched ${what}` };
  }

  // The first DANE-TA failure explains a miss better than the generic count.
  let taProblem: string | null = null;
  const taRecords = usable.filter((r) => r.usage === DANE_TA);
  for (const record of taRecords) {
    for (let depth = 1; depth < entries.length; depth++) {
      if (!recordMatches(record, entries[depth])) continue;
      const anchor = entries[depth].cert;
      const anchorName = anchor ? describeCert(anchor) : 'unparsed certificate';
      const problem = chainProblem(entries, depth, record.selector === 0, now) ?? nameProblem(leaf.cert, names);
      if (problem === null) {
        return { matched: true, usage: record.usage, selector: record.selector, matchingType: record.matchingType, depth, reason: `${label(record)} matched the trust anchor ${anchorName} at depth ${depth} and the chain verified` };
      }
      taProblem ??= `${label(record)} matched the trust anchor ${anchorName} at depth ${depth}, but ${problem}`;
    }
    // A bare trust-anchor key absent from the chain: usable only when the record holds the whole key.
    if (record.selector === 1 && record.matchingType === 0) {
      const key = toKey(record.data);
      if (key === null) continue;
      for (let top = 0; top < entries.length; top++) {
        const cert = entries[top].cert;
        if (cert === null || !safeVerify(cert, key)) continue;
        if (top > 0 && !cert.ca) continue;
        const problem = chainProblem(entries, top, true, now) ?? nameProblem(leaf.cert, names);
        if (problem === null) {
          return { matched: true, usage: record.usage, selector: record.selector, matchingType: record.matchingType, depth: top + 1, reason: `${label(record)} matched the trust-anchor key that signed the certificate at depth ${top}, and the chain verified` };
        }
        taProblem ??= `${label(record)} matched the trust-anchor key that signed the certificate at depth ${top}, but ${problem}`;
      }
    }
  }

  if (taProblem !== null) return { matched: false, reason: taProblem };
  const ignored = records.length - usable.length;
  const ignoredNote = ignored > 0 ? `; ${ignored} unusable record(s) ignored` : '';
  return { matched: false, reason: `no TLSA record matched the certificate chain (${usable.length} record(s) checked${ignoredNote})` };
}
