import type { DeliveryReceipt } from '../kernel/index.ts';
import { parseHeldReply } from '../pickup/index.ts';
import type { MessageDetail, MessageSummary, QueueTotals } from '../queue/index.ts';
import type { NoticeState } from './pickup-notices.ts';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

function tlsOf(r: DeliveryReceipt): string {
  return r.tlsVersion ? `${r.tlsVersion} ${r.cipher ?? ''}, certificate ${r.certVerified ? 'verified' : 'NOT verified'}${r.certSubject ? ` (${r.certSubject})` : ''}` : 'no TLS';
}

/** A held recipient is not "delivered": it waits in the portal, and what matters is its notice. */
function stateLabel(r: { state: string; lastReply: string | null; held?: boolean }): string {
  // Put on hold by `queue hold`: not tried until `queue release`, whatever its delivery state.
  if (r.held) return 'held';
  const held = r.state === 'delivered' ? parseHeldReply(r.lastReply) : undefined;
  return held ? `held for pickup ${held.pickupId}` : r.state;
}

function noticeLine(r: { state: string; lastReply: string | null }, notices: Map<string, NoticeState> | undefined): string | undefined {
  const held = r.state === 'delivered' ? parseHeldReply(r.lastReply) : undefined;
  if (!held?.noticeQueueId) return undefined;
  const n = notices?.get(held.noticeQueueId);
  const head = `      notice ${held.noticeQueueId}: `;
  if (!n) return `${head}see queue show ${held.noticeQueueId}`;
  if (n.state === 'gone') return `${head}no longer in the queue`;
  const via = n.last ? `  via ${n.last.mxHost ?? '-'} [${n.last.ip ?? '-'}]  ${tlsOf(n.last)}` : '';
  const weak = n.state === 'delivered' && n.last && (!n.last.tlsVersion || !n.last.certVerified) ? '  WARNING: below tls-verified (link and message password crossed an unverified hop)' : '';
  if (n.state === 'delivered') return `${head}delivered ${n.last ? iso(n.last.at) : ''}${via}${weak}`;
  if (n.state === 'failed') return `${head}FAILED: ${n.lastReply ?? ''} (the sender got a report)`;
  return `${head}${n.state}, attempts ${n.attempts}${n.nextAttemptAt ? `, next ${iso(n.nextAttemptAt)}` : ''}${n.lastReply ? `  last: ${n.lastReply}` : ''}`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${Math.ceil(n / 1024)} kB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** The last line of `queue list`, like postqueue's "-- 3 Kbytes in 2 Requests." */
export function formatTotals(t: QueueTotals): string {
  if (t.messages === 0) return '-- queue is empty';
  const parts = [`${t.recipients.queued} waiting`, ...(t.recipients.leased ? [`${t.recipients.leased} being delivered`] : []), ...(t.recipients.held ? [`${t.recipients.held} held`] : [])];
  return `-- ${bytes(t.bytes)} in ${t.messages} message${t.messages === 1 ? '' : 's'}, ${parts.join(', ')} recipient(s)`;
}

export function formatQueueList(messages: MessageSummary[], notices?: Map<string, NoticeState>): string {
  if (messages.length === 0) return 'queue is empty';
  const lines: string[] = [];
  for (const m of messages) {
    lines.push(`${m.id}  ${iso(m.createdAt)}  ${m.size} bytes  from <${m.mailFrom}>`);
    for (const r of m.recipients) {
      const next = r.state === 'queued' && !r.held ? `  next ${iso(r.nextAttemptAt)}` : '';
      lines.push(`    ${stateLabel(r).padEnd(9)} <${r.address}>  attempts ${r.attempts}${next}${r.lastReply ? `  last: ${r.lastReply}` : ''}`);
      const notice = noticeLine(r, notices);
      if (notice) lines.push(notice);
    }
  }
  return lines.join('\n');
}

export function formatQueueShow(m: MessageDetail, notices?: Map<string, NoticeState>): string {
  const own = m.envelope.notice;
  const lines = [
    `message   ${m.id}`,
    `from      <${m.mailFrom}>${m.envelope.authUser ? `  (authenticated as ${m.envelope.authUser})` : ''}`,
    `received  ${iso(m.createdAt)}  ${m.size} bytes  body ${m.envelope.bodyType}${m.envelope.requireTls ? '  REQUIRETLS' : ''}${m.envelope.encrypt ? `  Sealgate-Encrypt: ${m.envelope.encrypt}` : ''}${m.envelope.requiredLevel ? `  requires ${m.envelope.requiredLevel}` : ''}${m.envelope.tlsOptional ? '  TLS-Required: No' : ''}${m.envelope.smtpUtf8 ? '  SMTPUTF8' : ''}`,
    ...(m.envelope.anonymous
      ? [`anonymous ${m.envelope.anonymous.pseudonym} stands for client [${m.envelope.clientIp ?? '?'}] HELO ${m.envelope.anonymous.helo || '(none)'}${m.envelope.anonymous.reverseName ? ` (${m.envelope.anonymous.reverseName})` : ''}${m.envelope.authUser ? `, user ${m.envelope.authUser}` : ''}; none of it is in the message`]
      : []),
    ...(own?.kind === 'pickup-notice'
      ? [`notice    for Secure Message Pickup ${own.pickupId ?? '?'}${own.heldMessageId ? ` (held message ${own.heldMessageId})` : ''}; a failure is reported to <${own.reportTo ?? '?'}>`]
      : own ? ['notice    a one-time code or read notice of the portal'] : []),
    'recipients:',
    ...m.recipients.flatMap((r) => [`  ${stateLabel(r).padEnd(9)} <${r.address}>  attempts ${r.attempts}${r.lastReply ? `  last: ${r.lastReply}` : ''}`, ...[noticeLine(r, notices)].filter((l): l is string => !!l)]),
    'delivery receipts:',
  ];
  if (m.receipts.length === 0) lines.push('  (no attempt yet)');
  for (const r of m.receipts) {
    const held = r.outcome === 'delivered' ? parseHeldReply(r.reply) : undefined;
    lines.push(`  ${iso(r.at)}  <${r.recipient}>  ${held ? `held for pickup ${held.pickupId}` : r.outcome}`);
    // No server took a held copy: the line would read "mx - [-]:- no TLS".
    if (!held) lines.push(`      mx ${r.mxHost ?? '-'} [${r.ip ?? '-'}]:${r.port ?? '-'}  ${tlsOf(r)}`);
    lines.push(`      reply: ${r.reply}`);
    if (r.route) lines.push(`      route: ${r.route}${r.routeReason ? ` (${r.routeReason})` : ''}`);
    if (r.messageSha256) lines.push(`      sha256 of the message as sent: ${r.messageSha256}`);
  }
  if (m.receipts.some((r) => r.outcome !== 'deferred')) lines.push(`  (sealgate receipt ${m.id} verifies the signed receipts)`);
  return lines.join('\n');
}
