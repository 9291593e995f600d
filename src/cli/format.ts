import type { MessageDetail, MessageSummary } from '../queue/index.ts';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export function formatQueueList(messages: MessageSummary[]): string {
  if (messages.length === 0) return 'queue is empty';
  const lines: string[] = [];
  for (const m of messages) {
    lines.push(`${m.id}  ${iso(m.createdAt)}  ${m.size} bytes  from <${m.mailFrom}>`);
    for (const r of m.recipients) {
      const next = r.state === 'queued' ? `  next ${iso(r.nextAttemptAt)}` : '';
      lines.push(`    ${r.state.padEnd(9)} <${r.address}>  attempts ${r.attempts}${next}${r.lastReply ? `  last: ${r.lastReply}` : ''}`);
    }
  }
  return lines.join('\n');
}

export function formatQueueShow(m: MessageDetail): string {
  const lines = [
    `message   ${m.id}`,
    `from      <${m.mailFrom}>${m.envelope.authUser ? `  (authenticated as ${m.envelope.authUser})` : ''}`,
    `received  ${iso(m.createdAt)}  ${m.size} bytes  body ${m.envelope.bodyType}${m.envelope.requireTls ? '  REQUIRETLS' : ''}${m.envelope.requiredLevel ? `  requires ${m.envelope.requiredLevel}` : ''}${m.envelope.tlsOptional ? '  TLS-Required: No' : ''}${m.envelope.smtpUtf8 ? '  SMTPUTF8' : ''}`,
    'recipients:',
    ...m.recipients.map((r) => `  ${r.state.padEnd(9)} <${r.address}>  attempts ${r.attempts}${r.lastReply ? `  last: ${r.lastReply}` : ''}`),
    'delivery receipts:',
  ];
  if (m.receipts.length === 0) lines.push('  (no attempt yet)');
  for (const r of m.receipts) {
    const tls = r.tlsVersion ? `${r.tlsVersion} ${r.cipher ?? ''}, certificate ${r.certVerified ? 'verified' : 'NOT verified'}${r.certSubject ? ` (${r.certSubject})` : ''}` : 'no TLS';
    lines.push(`  ${iso(r.at)}  <${r.recipient}>  ${r.outcome}`);
    lines.push(`      mx ${r.mxHost ?? '-'} [${r.ip ?? '-'}]:${r.port ?? '-'}  ${tls}`);
    lines.push(`      reply: ${r.reply}`);
  }
  return lines.join('\n');
}
