import { domainToASCII } from 'node:url';
import { encodeHeaderLine } from './header-bytes.ts';
import { formatRfc5322Date } from './message-id.ts';

export interface ReceivedInput {
  fromHelo: string;
  fromHost?: string;
  fromIp: string;
  byHost: string;
  /** RFC 3848 "with" keyword: ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTPS… */
  protocol: string;
  tls?: { version: string; cipher: string; bits?: number };
  queueId?: string;
  forRecipient?: string;
  /** The SMTP AUTH user of a submission, named in the trace (Postfix smtpd_sasl_authenticated_header). */
  authenticatedAs?: string;
  date: Date;
}

/**
 * Client-supplied text (HELO name, reverse DNS, recipient) as printable ASCII that cannot
 * break out of its clause: a non-ASCII name in A-labels when it is one, anything else
 * non-ASCII as '?', controls and the clause delimiters dropped.
 */
function clean(value: string, max = 255): string {
  let text = value;
  if (!/^[\x20-\x7e]*$/.test(text)) {
    const ace = /^[^\s()<>;\\"]+$/.test(text) ? domainToASCII(text) : '';
    text = ace || text.replace(/[^\x20-\x7e]/gu, '?');
  }
  return text.replace(/[\x00-\x1f\x7f()<>;\\"]/g, '').replace(/\s+/g, ' ').trim().slice(0, max) || 'unknown';
}

/**
 * A name that stands alone in its clause (HELO, reverse DNS, our host, an id): one atom, so a
 * HELO of `x by evil` or a PTR holding `[` cannot start a clause or swallow the address literal
 * for a reader of the trace; brackets stay only around a whole address literal.
 */
function cleanToken(value: string, max = 255): string {
  const text = clean(value, max).replace(/ /g, '_');
  return /^\[[^[\]]*\]$/.test(text) ? text : text.replace(/[[\]]/g, '') || 'unknown';
}

/**
 * `RFC 5321 §4.4` trace line with the RFC 8314 §4.3 TLS clause, folded, ending in CRLF, as
 * bytes checked after encoding. A non-ASCII recipient is left out of the "for" clause (it is
 * optional) rather than written in a header that must stay ASCII.
 */
export function formatReceivedHeader(input: ReceivedInput): Buffer {
  const ip = clean(input.fromIp, 64);
  const from = `from ${cleanToken(input.fromHelo)} (${input.fromHost ? `${cleanToken(input.fromHost)} ` : ''}[${ip}])`;
  const auth = input.authenticatedAs ? ` (authenticated as ${clean(input.authenticatedAs, 128)})` : '';
  return traceLine(from, auth, input);
}

export type AnonymousReceivedInput = Omit<ReceivedInput, 'fromHelo' | 'fromHost' | 'fromIp' | 'authenticatedAs'> & {
  /** Stands for the client in the from clause and, without a queue id, as the id (mail/anonymity.ts makePseudonym). */
  pseudonym: string;
};

/**
 * Our trace line for an anonymous submission: the client is named by a per-message
 * pseudonym, a valid RFC 5321 Domain (`from anon-…`), with no address literal, no HELO name
 * and no user; the pseudonym is the id too, which the admin looks up in the queue.
 */
export function formatAnonymousReceivedHeader(input: AnonymousReceivedInput): Buffer {
  const pseudonym = cleanToken(input.pseudonym, 64);
  return traceLine(`from ${pseudonym}`, '', { ...input, queueId: input.queueId ?? pseudonym });
}

function traceLine(from: string, auth: string, input: Pick<ReceivedInput, 'byHost' | 'protocol' | 'tls' | 'queueId' | 'forRecipient' | 'date'>): Buffer {
  const by = `by ${cleanToken(input.byHost)} (Sealgate)`;
  const segments = [from, by];
  if (input.tls) segments.push(`(using ${clean(input.tls.version, 32)} with cipher ${clean(input.tls.cipher, 96)}${input.tls.bits ? ` (${input.tls.bits}/${input.tls.bits} bits)` : ''})`);
  const id = input.queueId ? ` id ${cleanToken(input.queueId, 64)}` : '';
  const forRecipient = input.forRecipient && /^[\x21-\x7e]+$/.test(input.forRecipient) ? clean(input.forRecipient) : undefined;
  segments.push(`with ${clean(input.protocol, 16)}${auth}${id}${forRecipient ? '' : ';'}`);
  if (forRecipient) segments.push(`for <${forRecipient}>;`);
  segments.push(formatRfc5322Date(input.date));
  return encodeHeaderLine('Received', segments);
}
