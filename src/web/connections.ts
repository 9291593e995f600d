import { networkOf } from '../accounts/index.ts';
import type { Server, Socket } from 'node:net';

/** The address a budget counts: the client network, as the login budgets count it (IPv6 by /64). */
export function addressKey(address: string | undefined): string {
  return address ? networkOf(address) : 'unknown';
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
