import { randomBytes } from 'node:crypto';

/**
 * `<random@hostname>`. 96 random bits make collisions across restarts and hosts negligible
 * without reading the clock. The hostname is cut down to what an id-right may hold, so a
 * misconfigured name can never break the header.
 */
export function makeMessageId(hostname: string): string {
  const literal = /^\[(?:IPv6:)?[0-9A-Fa-f:.]+\]$/.test(hostname);
  const right = literal ? hostname : hostname.replace(/[^A-Za-z0-9.-]/g, '').replace(/^\.+|\.+$/g, '') || 'localhost';
  return `<${randomBytes(12).toString('base64url')}@${right}>`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date in UTC: `Tue, 24 Nov 2026 14:47:40 +0000`. */
export function formatRfc5322Date(date: Date): string {
  // An invalid Date would otherwise render as "undefined, NaN …" inside a header.
  if (Number.isNaN(date.getTime())) throw new RangeError('formatRfc5322Date: invalid Date');
  const pad = (n: number): string => String(n).padStart(2, '0');
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return `${DAYS[date.getUTCDay()]}, ${pad(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${String(date.getUTCFullYear()).padStart(4, '0')} ${time} +0000`;
}
