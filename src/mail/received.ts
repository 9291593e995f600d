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

// Client-supplied text (HELO name, reverse DNS, recipient) must not break out of the header.
function clean(value: string, max = 255): string {
  return value.replace(/[\x00-\x1f\x7f()<>;\\"]/g, '').replace(/\s+/g, ' ').trim().slice(0, max) || 'unknown';
}

/** `RFC 5321 §4.4` trace line with the RFC 8314 §4.3 TLS clause, folded, ending in CRLF. */
export function formatReceivedHeader(input: ReceivedInput): string {
  const ip = clean(input.fromIp, 64);
  const from = `from ${clean(input.fromHelo)} (${input.fromHost ? `${clean(input.fromHost)} ` : ''}[${ip}])`;
  const by = `by ${clean(input.byHost)} (Sealgate)`;
  const tls = input.tls
    ? `\r\n\t(using ${clean(input.tls.version, 32)} with cipher ${clean(input.tls.cipher, 96)}${input.tls.bits ? ` (${input.tls.bits}/${input.tls.bits} bits)` : ''})`
    : '';
  const id = input.queueId ? ` id ${clean(input.queueId, 64)}` : '';
  const auth = input.authenticatedAs ? ` (authenticated as ${clean(input.authenticatedAs, 128)})` : '';
  const forClause = input.forRecipient ? `\r\n\tfor <${clean(input.forRecipient)}>` : '';
  return `Received: ${from}\r\n\t${by}${tls}\r\n\twith ${clean(input.protocol, 16)}${auth}${id}${forClause};\r\n\t${formatRfc5322Date(input.date)}\r\n`;
}
