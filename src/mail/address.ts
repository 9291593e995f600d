import { domainToASCII } from 'node:url';
import { MailError } from '../kernel/index.ts';

export interface ParsedAddress {
  /** As written, quotes included: `"a b"` stays quoted. */
  local: string;
  /** Lowercased, in A-labels, without a trailing dot; or an address literal `[…]`. */
  domain: string;
}

// RFC 5322 atext plus '.', and any non-ASCII (RFC 6531 SMTPUTF8). Dot placement is not
// checked: legacy senders with `a..b` or a trailing dot exist and we must not bounce them.
const DOT_ATOM_LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u0080-\uffff]+$/;
// RFC 5321 Quoted-string: qtextSMTP or a quoted-pair of printable ASCII.
const QUOTED_LOCAL = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\uffff]|\\[\x20-\x7e])*"$/;
const LITERAL = /^\[(?:\d{1,3}(?:\.\d{1,3}){3}|IPv6:[0-9A-Fa-f:.]+)\]$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// RFC 5321 §4.1.2 letter-digit-hyphen labels, after IDNA.
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_ADDRESS = 320; // 64 + 1 + 255, with room for nothing else

/** Splits at the `@` that ends the local part: after a quoted string, else the last one. */
function splitAt(address: string): [string, string] | null {
  if (address.startsWith('"')) {
    const closing = /^"(?:[^"\\]|\\.)*"/s.exec(address);
    if (!closing || address[closing[0].length] !== '@') return null;
    return [closing[0], address.slice(closing[0].length + 1)];
  }
  const at = address.lastIndexOf('@');
  if (at < 0) return null;
  return [address.slice(0, at), address.slice(at + 1)];
}

/**
 * `local@domain` with the domain lowercased and in A-labels; null when it is not an
 * address. Lenient on the local part's length (SRS and VERP senders exceed 64);
 * `isRoutableRecipient` is the strict check for recipients.
 */
export function parseAddress(address: string): ParsedAddress | null {
  if (typeof address !== 'string' || address.length === 0 || address.length > MAX_ADDRESS) return null;
  const split = splitAt(address);
  if (!split) return null;
  const [local, rawDomain] = split;
  if (local === '' || rawDomain === '') return null;
  if (!DOT_ATOM_LOCAL.test(local) && !QUOTED_LOCAL.test(local)) return null;
  if (LONE_SURROGATE.test(local)) return null;
  if (rawDomain.startsWith('[')) {
    // Address literals are syntax we recognise; isRoutableRecipient never routes to them.
    return LITERAL.test(rawDomain) ? { local, domain: rawDomain.toLowerCase() } : null;
  }
  if (!/^[^\x00-\x20\x7f@"\\<>()[\],;:%!]+$/.test(rawDomain)) return null;
  const ascii = domainToASCII(rawDomain.toLowerCase()).replace(/\.$/, '');
  if (!ascii || ascii.length > 255) return null;
  const labels = ascii.split('.');
  if (!labels.every((label) => LDH_LABEL.test(label))) return null;
  // An all-numeric last label is an IP address in disguise (WHATWG turns `0x7f.1` into 127.0.0.1).
  if (/^\d+$/.test(labels[labels.length - 1])) return null;
  return { local, domain: ascii };
}

/**
 * A domain as routing and policies key it: lowercased, in A-labels, without a trailing dot
 * (what parseAddress gives); as lowercased when IDNA refuses it. One destination, one name:
 * `\uff4cocal.test` and `LOCAL.test` are local.test.
 */
export function canonicalDomain(domain: string): string {
  const lower = domain.toLowerCase();
  return (domainToASCII(lower) || lower).replace(/\.$/, '');
}

/** The local part's text with quoting and quoted-pairs undone. */
function unquote(local: string): string {
  return local.startsWith('"') ? local.slice(1, -1).replace(/\\(.)/g, '$1') : local;
}

/**
 * Recipients a gateway may route. Source routes (`@a,@b:u@c`), %-hacks (`u%other@us`),
 * bang paths (`other!u@us`), quoted local parts hiding an `@`, `%` or `!`, and address
 * literals are the classic ways to turn a relay for "our domain" into an open one: a
 * downstream server may honour them and send the mail elsewhere.
 */
export function isRoutableRecipient(address: string): boolean {
  if (typeof address !== 'string' || address.startsWith('@')) return false; // source route
  const parsed = parseAddress(address);
  if (!parsed) return false;
  const { local, domain } = parsed;
  if (domain.startsWith('[')) return false;
  if (Buffer.byteLength(local, 'utf8') > 64 || domain.length > 255) return false;
  const text = unquote(local);
  if (text === '') return false;
  // NFKC too, so fullwidth ＠ ％ ！ cannot slip past and be normalised later downstream.
  if (/[@%!]/.test(text) || /[@%!]/.test(text.normalize('NFKC'))) return false;
  return true;
}

// Characters that are never part of a mailbox, even under RFC 6531: controls (C0, DEL, C1),
// lone surrogates, line and paragraph separators, non-ASCII spaces, invisible formatting that
// hides or reorders text (zero-width space, word joiner, BOM, bidi overrides), and U+FFFD,
// which is what invalid UTF-8 decodes to (the address would be mangled, not carried).
// ZWNJ/ZWJ (U+200C/D) stay: IDNA allows them in some scripts.
const NEVER_IN_MAILBOX = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200b\u202a-\u202f\u205f\u2060\u2066-\u2069\u3000\ufeff\ufffd]/u;
const ASCII = /^[\x00-\x7f]*$/;

export function isAscii(text: string): boolean {
  return ASCII.test(text);
}

/**
 * The door check for `MAIL FROM` / `RCPT TO` (RFC 5321 §4.1.2, RFC 6531 §3.3): a mailbox we
 * can parse, no character that could break a line or hide text, and non-ASCII only when the
 * client gave SMTPUTF8. Null when acceptable; else the refusal to send back. The empty
 * reverse path `<>` is the caller's business (it is not a mailbox).
 */
export function mailboxRefusal(address: string, options: { smtpUtf8: boolean; role: 'sender' | 'recipient' }): MailError | null {
  const what = options.role === 'sender' ? 'Sender' : 'Recipient';
  if (typeof address !== 'string' || NEVER_IN_MAILBOX.test(address)) {
    return new MailError(501, options.role === 'sender' ? '5.1.7' : '5.1.3', `${what} address contains control or invisible characters`, 'mail');
  }
  if (!isAscii(address) && !options.smtpUtf8) {
    // X.6.7 "Non-ASCII addresses not permitted for that sender/recipient" (RFC 6531, RFC 5248).
    return new MailError(553, '5.6.7', `${what} address is not ASCII; send it with the SMTPUTF8 parameter (RFC 6531)`, 'mail');
  }
  if (!parseAddress(address)) {
    return new MailError(553, options.role === 'sender' ? '5.1.7' : '5.1.3', `${what} address is not a valid mailbox (RFC 5321 4.1.2)`, 'mail');
  }
  return null;
}

/**
 * The form of an address a given peer can take (chasquid's prepareForSMTPUTF8): ASCII as is;
 * a peer offering SMTPUTF8 gets it as is (the caller writes UTF-8 bytes); otherwise a
 * non-ASCII domain goes in A-labels (RFC 5890), and a non-ASCII local part cannot be written
 * at all: null, which the caller turns into a permanent 5.6.7 (RFC 6531 §3.5).
 */
export function addressForPeer(address: string, peerSmtpUtf8: boolean): string | null {
  if (isAscii(address) || peerSmtpUtf8) return address;
  const parsed = parseAddress(address);
  if (!parsed || !isAscii(parsed.local)) return null;
  return `${parsed.local}@${parsed.domain}`;
}
