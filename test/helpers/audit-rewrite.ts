import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { eventHash, GENESIS_HASH } from '../../src/audit/index.ts';
import { RawSmtp } from './raw-smtp.ts';

export type AuditRow = { seq: number; at: number; node: string; actor: string; action: string; target: string | null; ip: string | null; protocol: string | null; detail: string; prev_hash: string; hash: string };

/**
 * What someone with write access to the SQLite file but not the master key can do: drop every
 * signed checkpoint, remove the events `drop` picks, and re-link the rest from genesis (SHA-256
 * is no secret), so the chain in the database looks whole.
 */
export function rewriteAuditChain(dbFile: string, drop: (row: AuditRow, all: AuditRow[]) => boolean): void {
  const db = new Database(dbFile);
  try {
    const all = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as AuditRow[];
    const rows = all.filter((r) => !drop(r, all));
    db.transaction(() => {
      db.prepare('DELETE FROM audit_checkpoints').run();
      db.prepare('DELETE FROM audit_events').run();
      let prev = { seq: 0, hash: GENESIS_HASH };
      const insert = db.prepare('INSERT INTO audit_events (seq, at, node, actor, action, target, ip, protocol, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)');
      for (const row of rows) {
        const event = { seq: prev.seq + 1, at: Number(row.at), node: row.node, actor: row.actor, action: row.action, target: row.target, ip: row.ip, protocol: row.protocol, detail: JSON.parse(row.detail) as Record<string, unknown>, prevHash: prev.hash };
        const hash = eventHash(event);
        insert.run(event.seq, event.at, event.node, event.actor, event.action, event.target, event.ip, event.protocol, row.detail, event.prevHash, hash);
        prev = { seq: event.seq, hash };
      }
    })();
  } finally {
    db.close();
  }
}

/** `count` failed SMTP AUTH logins as alice@corp.test (guesses numbered from `from`): events the attacker wants gone. */
export async function failedSmtpLogins(port: number, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const smtp = await RawSmtp.connect(port);
    await smtp.command('EHLO client.test');
    await smtp.startTls();
    await smtp.command('EHLO client.test');
    expect(await smtp.command(`AUTH PLAIN ${Buffer.from(`\0alice@corp.test\0guess ${i}`).toString('base64')}`)).toMatch(/^535 /);
    smtp.close();
  }
}
