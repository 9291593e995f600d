import { isIPv6 } from 'node:net';
import type { Server, Socket } from 'node:net';

/** The address a budget counts: an IPv4 address, or the /64 of an IPv6 one (one customer's prefix). */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (!isIPv6(v4)) return v4;
  // Expand "::" so the first four groups are the /64.
  const [head, tail = ''] = v4.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = v4.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * At most `max` open connections per address on the portal: the next is closed before its TLS
 * handshake. Counted on the raw TCP socket, so a slow handshake counts too.
 */
export function capConnectionsPerIp(server: Server, max: number, onRefused: (address: string) => void): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const key = addressKey(socket.remoteAddress);
    const count = open.get(key) ?? 0;
    if (count >= max) {
      onRefused(key);
      socket.destroy();
      return;
    }
    open.set(key, count + 1);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left <= 0) open.delete(key);
      else open.set(key, left);
    });
  });
}

/**
 * A TLS connection that sends no request within `ms` of its handshake is closed. Once a
 * request arrives the deadline goes: a slow handler (Argon2, sealing for 50 recipients) must
 * not lose its connection; from then on the header, request and keep-alive timeouts apply.
 */
export function closeIdleConnections(server: Server, ms: number): void {
  server.on('secureConnection', (socket: Socket) => socket.setTimeout(ms));
  server.on('request', (request: { socket: Socket }) => request.socket.setTimeout(0));
}
