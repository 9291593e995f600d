import type { SmtpClient } from '../smtp/client/index.ts';

interface Idle {
  client: SmtpClient;
  timer: NodeJS.Timeout;
}

const bornAt = new WeakMap<SmtpClient, number>();

/**
 * Idle SMTP sessions kept briefly after RSET, keyed by destination and TLS policy, so a
 * burst of messages to one MX reuses one connection and one TLS handshake. `maxPerKey` is
 * the per-domain concurrency: deliveries leased together finish together, and a pool of 4
 * beside 20 of them closed 16 sessions and opened them again for the next batch (40% of
 * relayed messages paid a new connection, and with TLS a new handshake; issue 14).
 */
export class ConnectionPool {
  private readonly idle = new Map<string, Idle[]>();
  private readonly idleMs: number;
  private readonly maxPerKey: number;
  private readonly maxAgeMs: number;

  constructor(options: { idleMs?: number; maxPerKey?: number; maxAgeMs?: number } = {}) {
    this.idleMs = options.idleMs ?? 5000;
    this.maxPerKey = options.maxPerKey ?? 4;
    // Like Postfix's smtp_connection_reuse_time_limit: a session is not reused forever.
    this.maxAgeMs = options.maxAgeMs ?? 60_000;
  }

  take(key: string): SmtpClient | null {
    const list = this.idle.get(key);
    while (list && list.length) {
      const entry = list.pop()!;
      clearTimeout(entry.timer);
      if (entry.client.alive) return entry.client;
    }
    return null;
  }

  give(key: string, client: SmtpClient): void {
    const list = this.idle.get(key) ?? [];
    if (!bornAt.has(client)) bornAt.set(client, Date.now());
    if (list.length >= this.maxPerKey || !client.alive || Date.now() - bornAt.get(client)! > this.maxAgeMs) {
      void client.quit();
      return;
    }
    const entry: Idle = {
      client,
      timer: setTimeout(() => {
        const current = this.idle.get(key);
        if (current) this.idle.set(key, current.filter((e) => e !== entry));
        void client.quit();
      }, this.idleMs),
    };
    entry.timer.unref();
    list.push(entry);
    this.idle.set(key, list);
  }

  closeAll(): void {
    for (const list of this.idle.values()) {
      for (const entry of list) {
        clearTimeout(entry.timer);
        void entry.client.quit();
      }
    }
    this.idle.clear();
  }
}
