import net from 'node:net';

export interface StripProxy {
  ip: string;
  port: number;
  /** Everything the SMTP client sent through the proxy, in order (what an attacker reads). */
  clientBytes(): string;
  /** Sessions the proxy relayed. */
  sessions(): number;
  stop(): Promise<void>;
}

/**
 * An active attacker on the path: relays SMTP to `upstream` but rewrites the EHLO reply so
 * STARTTLS is not offered (the same-length `XXXXXXXA` real-world strippers use), and keeps a
 * copy of everything the client sends. A client that asks for STARTTLS anyway gets 454.
 */
export async function startStripProxy(options: { ip: string; port: number; upstream: { host: string; port: number } }): Promise<StripProxy> {
  const seen: Buffer[] = [];
  let sessions = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sessions++;
    sockets.add(client);
    const upstream = net.connect(options.upstream.port, options.upstream.host);
    sockets.add(upstream);
    let pendingClient = '';
    client.on('data', (data: Buffer) => {
      seen.push(Buffer.from(data));
      pendingClient += data.toString('latin1');
      // A client that insists on STARTTLS is refused here rather than upstream.
      if (/^STARTTLS\r?\n/im.test(pendingClient)) {
        pendingClient = '';
        client.write('454 4.7.0 TLS not available due to temporary reason\r\n');
        return;
      }
      pendingClient = pendingClient.slice(-64);
      upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => {
      client.write(Buffer.from(data.toString('latin1').replace(/^(250[ -])STARTTLS/gim, '$1XXXXXXXA'), 'latin1'));
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.ip, () => resolve());
  });
  return {
    ip: options.ip,
    port: options.port,
    clientBytes: () => Buffer.concat(seen).toString('latin1'),
    sessions: () => sessions,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
