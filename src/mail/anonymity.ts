import { randomBytes } from 'node:crypto';
import { domainToUnicode } from 'node:url';
import { headerValueText, joinFields, rawFields, type RawField } from './controls.ts';
import { makeMessageId } from './message-id.ts';

/*
 * Anonymous submission (issue 12): a message leaves with nothing that names the client's
 * network: not its address, not its HELO name, not its reverse name, not its mail program.
 * The link from the pseudonym to the client is kept by the queue and the audit trail, never
 * in the message. Pure header-block edits on latin1 text: every field kept stays byte for byte.
 */

/** Always removed from an anonymous submission (the issue names them); `anonymity.stripHeaders` adds to them. */
export const ANONYMITY_STRIPPED_HEADERS = ['X-Originating-IP', 'X-Mailer', 'User-Agent'] as const;

/**
 * Fields that carry what the sender wrote (addresses, subject, threading, MIME structure):
 * kept even when they mention a client name, e.g. a From: in the domain the client calls
 * itself by. Any other field that mentions the client goes.
 */
const AUTHORED = /^(from|sender|reply-to|to|cc|bcc|subject|date|mime-version|in-reply-to|references|content-[a-z0-9-]+)$/;

/** A fresh per-message pseudonym, 64 random bits: not derivable from the client. */
export function makePseudonym(): string {
  return `anon-${randomBytes(8).toString('hex')}`;
}

/** What names the client: its address, and the names it gave or that DNS gave for it. */
export interface ClientTraces {
  ip: string;
  helo?: string;
  reverseName?: string;
}

export interface AnonymizeOptions {
  client: ClientTraces;
  /** Field names removed besides ANONYMITY_STRIPPED_HEADERS (any case). */
  stripHeaders?: readonly string[];
  /** Our host name, for the Message-ID that replaces one naming the client. */
  hostname: string;
  /** The envelope sender's domain: a Message-ID in it names no machine of the client's. */
  senderDomains?: readonly string[];
}

/** The spellings of each trace worth looking for: `::ffff:192.0.2.1` is also `192.0.2.1`, `[192.0.2.1]` also its address. */
function traceTokens(client: ClientTraces): string[] {
  const tokens = new Set<string>();
  const add = (value: string | undefined) => {
    const text = value?.trim().toLowerCase();
    if (!text || text === 'unknown') return;
    tokens.add(text);
    // An IDN HELO arrives as A-labels; a field may name the host in its Unicode form.
    if (text.includes('xn--')) {
      const unicode = domainToUnicode(text);
      if (unicode && unicode !== text) tokens.add(unicode.toLowerCase());
    }
    const literal = /^\[(?:ipv6:)?([^\]]+)\]$/.exec(text);
    if (literal) add(literal[1]);
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (mapped) add(mapped[1]);
  };
  add(client.ip);
  add(client.helo);
  add(client.reverseName);
  return [...tokens];
}

/**
 * Whether `text` mentions one of the tokens as a whole name or address: `127.0.0.5` is not in
 * `127.0.0.50`, `pc.example` is in `<x@pc.example>` and in `mail.pc.example`.
 */
function mentions(text: string, tokens: readonly string[]): boolean {
  const lower = text.toLowerCase();
  return tokens.some((token) => {
    for (let at = lower.indexOf(token); at >= 0; at = lower.indexOf(token, at + 1)) {
      const before = lower[at - 1] ?? '';
      const after = lower.slice(at + token.length, at + token.length + 2);
      if (/[a-z0-9-]/.test(before) || (/[:]/.test(before) && token.includes(':'))) continue;
      if (/^[a-z0-9-]/.test(after) || /^[.:][a-z0-9]/.test(after)) continue;
      return true;
    }
    return false;
  });
}

/**
 * As the raw text, and as a recipient's mail program shows it: 8-bit bytes read as UTF-8 and
 * RFC 2047 encoded words decoded, so `=?utf-8?B?…?=` or `=2E` for the dots hides nothing (i12-07).
 */
function namesClient(value: string, tokens: readonly string[]): boolean {
  return mentions(value, tokens) || (/=\?|[\x80-\xff]/.test(value) && mentions(headerValueText(value), tokens));
}

/**
 * The domains a Message-ID's id-right may name without naming the client's machine (RFC 5322
 * §3.6.4: mail programs put their host name there, whatever they say in EHLO): the sender's
 * (From:, Sender:, the envelope) and ours.
 */
function ownDomains(fields: readonly RawField[], options: AnonymizeOptions): Set<string> {
  const domains = new Set([options.hostname, ...(options.senderDomains ?? [])].map((d) => d.toLowerCase()));
  for (const field of fields) {
    if (field.name !== 'from' && field.name !== 'sender') continue;
    for (const m of headerValueText(field.raw.slice(field.raw.indexOf(':') + 1)).matchAll(/@([^\s<>()"',;:@]+)/g)) domains.add(m[1].toLowerCase().replace(/\.$/, ''));
  }
  return domains;
}

/** `<left@right>` → `right`, lower-cased; null when there is none. */
function idRight(value: string): string | null {
  const m = /@([^@<>\s]+)>\s*$/.exec(value.trim());
  return m ? m[1].toLowerCase().replace(/\.$/, '') : null;
}

/**
 * Edits the header block of an anonymous submission: the fields named to go, every
 * `Received:` the message arrived with (the client's own trace, with its inner addresses),
 * and any other field that mentions the client's address or names. A Message-ID naming the
 * client, or any host but the sender's domain and ours, is replaced by one of ours rather than dropped.
 */
export function anonymizeHeaderBlock(block: string, options: AnonymizeOptions): { block: string; removed: string[] } {
  const { fields, tail } = rawFields(block);
  const stripped = new Set([...ANONYMITY_STRIPPED_HEADERS, ...(options.stripHeaders ?? [])].map((name) => name.toLowerCase()));
  const tokens = traceTokens(options.client);
  const removed: string[] = [];
  let domains: Set<string> | undefined;
  const kept = fields.filter((field) => {
    if (field.name === '') return true;
    if (stripped.has(field.name) || field.name === 'received') {
      removed.push(field.name);
      return false;
    }
    const value = field.raw.slice(field.raw.indexOf(':') + 1);
    if (field.name === 'message-id') {
      const right = idRight(value);
      if (!namesClient(value, tokens) && right !== null && (domains ??= ownDomains(fields, options)).has(right)) return true;
      field.raw = `${field.raw.slice(0, field.raw.indexOf(':'))}: ${makeMessageId(options.hostname)}`;
      removed.push('message-id (replaced)');
      return true;
    }
    if (AUTHORED.test(field.name) || !namesClient(value, tokens)) return true;
    removed.push(field.name);
    return false;
  });
  return { block: removed.length ? joinFields(kept, tail) : block, removed };
}
