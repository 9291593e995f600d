import type { AuditEvent } from './chain.ts';

const COLUMNS = ['seq', 'at', 'node', 'actor', 'action', 'target', 'ip', 'protocol', 'detail', 'prev_hash', 'hash'] as const;

/** A field as RFC 4180 wants it; a leading = + - @ is quoted with ' so a spreadsheet does not run it as a formula. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) || safe !== value ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The events as CSV (RFC 4180, CRLF), time as ISO 8601, detail as JSON. */
export function auditCsv(events: readonly AuditEvent[]): string {
  const rows = events.map((e) => [String(e.seq), new Date(e.at).toISOString(), e.node, e.actor, e.action, e.target ?? '', e.ip ?? '', e.protocol ?? '', JSON.stringify(e.detail), e.prevHash, e.hash].map(csvField).join(','));
  return `${[COLUMNS.join(','), ...rows].join('\r\n')}\r\n`;
}
