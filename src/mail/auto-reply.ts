import { getHeader, type HeaderField } from './headers.ts';

/*
 * When an automatic answer may be sent at all (RFC 3834 §2): never to the null sender (a
 * bounce or another auto-reply), never to mail that says it is automatic (Auto-Submitted
 * other than `no`), from a list or bulk (List-Id, List-Unsubscribe, Precedence), and never
 * to a role that answers itself (MAILER-DAEMON, owner-…, …-request) or to our own address.
 * Rate limits are the caller's: this only reads the message.
 */

export type AutoReplyRefusal = 'null-sender' | 'auto-submitted' | 'list-or-bulk' | 'role-address' | 'own-address';

export function autoReplyRefusal(input: { mailFrom: string; headers: readonly HeaderField[]; ownAddress: string }): AutoReplyRefusal | null {
  const sender = input.mailFrom.trim().toLowerCase();
  if (sender === '') return 'null-sender';
  if (sender === input.ownAddress.trim().toLowerCase()) return 'own-address';
  const local = sender.slice(0, sender.lastIndexOf('@'));
  if (/^(mailer-daemon|postmaster|listserv|majordomo|owner-.*|.*-request|.*-owner|no-?reply|bounces?(\+.*)?)$/.test(local)) return 'role-address';
  const autoSubmitted = getHeader(input.headers, 'Auto-Submitted');
  // The keyword before any parameters (`auto-replied; owner-email=…`), case-insensitive.
  if (autoSubmitted !== undefined && autoSubmitted.split(';')[0].trim().toLowerCase() !== 'no') return 'auto-submitted';
  if (getHeader(input.headers, 'X-Auto-Response-Suppress') !== undefined) return 'auto-submitted';
  if (getHeader(input.headers, 'List-Id') !== undefined || getHeader(input.headers, 'List-Unsubscribe') !== undefined) return 'list-or-bulk';
  const precedence = getHeader(input.headers, 'Precedence')?.trim().toLowerCase();
  if (precedence === 'bulk' || precedence === 'list' || precedence === 'junk') return 'list-or-bulk';
  return null;
}
