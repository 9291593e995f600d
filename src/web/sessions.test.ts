import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { WebSessions } from './sessions.ts';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`web sessions on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());
    let now = 1_000_000;
    const clock = { now: () => now };

    it.skipIf(!available)('resumes by token only, keeps the secret sealed, and ends after the idle time', async () => {
      current = await openTestStore(dialect);
      const sessions = new WebSessions(current.store, clock, 60_000);
      const secret = randomBytes(32);
      const token = await sessions.create('recipient', 'M'.repeat(22), 3_600_000, secret);
      const resumed = await sessions.resume(token, 'recipient');
      expect(resumed.status === 'ok' && resumed.session.secret?.equals(secret)).toBe(true);
      expect((await sessions.resume(token, 'sender')).status).toBe('none');
      expect((await sessions.resume(randomBytes(32).toString('base64url'), 'recipient')).status).toBe('none');
      expect((await sessions.resume('not a token', 'recipient')).status).toBe('none');
      // The row holds neither the token nor the secret.
      const row = await current.store.db.selectFrom('web_sessions').selectAll().executeTakeFirstOrThrow();
      expect(row.id).not.toBe(token);
      expect(Buffer.from(row.sealed!).includes(secret)).toBe(false);
      // Activity keeps it alive; silence ends it.
      now += 50_000;
      expect((await sessions.resume(token, 'recipient')).status).toBe('ok');
      now += 50_000;
      expect((await sessions.resume(token, 'recipient')).status).toBe('ok');
      now += 60_001;
      expect((await sessions.resume(token, 'recipient')).status).toBe('idle');
      expect((await sessions.resume(token, 'recipient')).status).toBe('none');
    });

    it.skipIf(!available)('sweeps idle and expired sessions and ends all of a subject', async () => {
      current = await openTestStore(dialect);
      const sessions = new WebSessions(current.store, clock, 60_000);
      const short = await sessions.create('sender', 'alice@example.test', 10_000);
      const other = await sessions.create('sender', 'bob@example.test', 3_600_000);
      const reader = await sessions.create('recipient', 'X'.repeat(22), 3_600_000, randomBytes(32));
      now += 20_000;
      expect(await sessions.sweep()).toBe(1);
      expect((await sessions.resume(short, 'sender')).status).toBe('none');
      expect((await sessions.resume(other, 'sender')).status).toBe('ok');
      await sessions.endAllOf('recipient', 'X'.repeat(22));
      expect((await sessions.resume(reader, 'recipient')).status).toBe('none');
      await sessions.end(other);
      expect((await sessions.resume(other, 'sender')).status).toBe('none');
    });
    it.skipIf(!available)('a session keeps its own idle limit, lists where it signed in, and ends the others', async () => {
      current = await openTestStore(dialect);
      const sessions = new WebSessions(current.store, clock, 600_000);
      const admin = await sessions.create('sender', 'alice@example.test', 3_600_000, undefined, { idleMs: 60_000, ip: '192.0.2.7', userAgent: 'Firefox/140\u001b[31m' });
      const laptop = await sessions.create('sender', 'alice@example.test', 3_600_000, undefined, { ip: '192.0.2.8', userAgent: 'Safari' });
      const listed = await sessions.list('sender', 'alice@example.test');
      expect(listed.map((s) => [s.ip, s.userAgent])).toEqual([['192.0.2.7', 'Firefox/140?[31m'], ['192.0.2.8', 'Safari']]);
      const resumed = await sessions.resume(admin, 'sender');
      expect(resumed.status === 'ok' && resumed.session.idleMs).toBe(60_000);
      now += 61_000;
      expect((await sessions.resume(admin, 'sender')).status).toBe('idle');
      const kept = await sessions.resume(laptop, 'sender');
      expect(kept.status).toBe('ok');
      const third = await sessions.create('sender', 'alice@example.test', 3_600_000);
      expect(await sessions.endOthers('sender', 'alice@example.test', kept.status === 'ok' ? kept.session.handle : '')).toBe(1);
      expect((await sessions.resume(third, 'sender')).status).toBe('none');
      expect((await sessions.resume(laptop, 'sender')).status).toBe('ok');
      // The sweep applies each row's own limit.
      const quick = await sessions.create('sender', 'bob@example.test', 3_600_000, undefined, { idleMs: 10_000 });
      now += 11_000;
      expect(await sessions.sweep()).toBe(1);
      expect((await sessions.resume(quick, 'sender')).status).toBe('none');
    });
  });
}
