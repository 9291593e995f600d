import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPortalFixture, type PortalFixture } from '../../test/helpers/browser.ts';
import { injectClient, signedInClient } from '../../test/helpers/web-inject.ts';
import type { AuditLog } from '../audit/index.ts';
import { Queue } from '../queue/index.ts';
import { runPurge } from '../retention-service.ts';
import type { Runtime } from '../runtime.ts';
import { claimScheduledJob, openBlobStore } from '../store/index.ts';
import { createVault } from '../vault/index.ts';
import { buildWebApp } from './app.ts';

const PASSWORD = 'correct horse battery';
const DAY_MS = 86_400_000;

describe('admin console: retention (fastify.inject over SQLite)', () => {
  let fixture: PortalFixture | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await fixture?.cleanup();
  });

  /** With `purge`, the console's "purge now" runs the real purge (retention-service.ts) over the fixture's stores. */
  async function setup(options: { purge: boolean }) {
    let skew = 0;
    const clock = { now: () => Date.now() + skew };
    const f = await createPortalFixture({ clock, config: { retention: { pickupDays: 7, auditDays: 3650, intervalMs: 120_000 } } });
    fixture = f;
    const queue = new Queue({ store: f.store, blobs: openBlobStore(path.join(f.dir, 'blobs')), vault: createVault(randomBytes(32)), clock, logger: f.deps.logger });
    const runtime = { config: f.deps.config, clock, store: f.store, pickup: f.pickup, queue, audit: f.deps.audit as AuditLog } as unknown as Runtime;
    app = buildWebApp({ ...f.deps, ...(options.purge ? { purge: (actor: string) => runPurge(runtime, actor, 'admin-console') } : {}) }).app;
    await app.ready();
    await f.users.add('boss@clinic.test', PASSWORD);
    await f.users.roles.grant('boss@clinic.test', 'admin');
    await f.users.add('audit@clinic.test', PASSWORD);
    await f.users.roles.grant('audit@clinic.test', 'auditor');
    await f.users.roles.revoke('audit@clinic.test', 'sender').catch(() => undefined);
    return { f, skip: (ms: number) => (skew += ms) };
  }

  const signIn = (user: string) => signedInClient(app!, 'admin', user, PASSWORD);

  it('shows each period with its config key and the last run, to admins and auditors, read-only', async () => {
    const { f } = await setup({ purge: false });
    expect((await injectClient(app!).request('GET', '/admin/retention')).headers.location).toBe('/admin/login');
    const auditor = await signIn('audit@clinic.test');
    const page = await auditor.request('GET', '/admin/retention');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('href="/admin/retention">Retention</a>');
    for (const text of ['30 days', '<code>retention.finishedMessageDays</code>', '365 days', '<code>retention.receiptDays</code>', '7 days', '<code>retention.pickupDays</code>',
      '3650 days', '<code>retention.auditDays</code>', '<code>retention.tlsReportDays</code>', 'Runs every 2 minutes', '<code>retention.intervalMs</code>', 'It has not run yet.', 'No purge has removed anything yet.']) {
      expect(page.body).toContain(text);
    }
    expect(page.body).not.toContain('id="purge-now"');
    await claimScheduledJob(f.store, 'retention-purge', 'node-7', 120_000, Date.now());
    expect((await auditor.request('GET', '/admin/retention')).body).toContain('on node node-7.');
    // Without a purge entry point even an admin gets no button, and the POST finds nothing.
    const boss = await signIn('boss@clinic.test');
    expect((await boss.request('GET', '/admin/retention')).body).not.toContain('id="purge-now"');
    expect((await boss.request('POST', '/admin/retention/purge', { _csrf: boss.csrf })).statusCode).toBe(404);
  });

  it('purges now for an admin (CSRF, audited with the admin as actor): a withdrawn pickup past its period is gone', async () => {
    const { f, skip } = await setup({ purge: true });
    const { id } = await f.pickup.create({ sender: 'alice@clinic.test', recipient: 'bob@patient.test', subject: 'x', verification: 'link', parts: [] });
    await f.pickup.retract(id);
    const auditor = await signIn('audit@clinic.test');
    expect((await auditor.request('GET', '/admin/retention')).body).not.toContain('id="purge-now"');
    expect((await auditor.request('POST', '/admin/retention/purge', { _csrf: auditor.csrf })).statusCode).toBe(403);
    const boss = await signIn('boss@clinic.test');
    expect((await boss.request('GET', '/admin/retention')).body).toContain('id="purge-now"');
    expect((await boss.request('POST', '/admin/retention/purge', {})).statusCode).toBe(403); // no CSRF token
    expect(await f.pickup.describe(id)).toBeDefined();

    skip(8 * DAY_MS);
    const later = await signIn('boss@clinic.test'); // the first session idled out over the 8 days
    const done = await later.request('POST', '/admin/retention/purge', { _csrf: later.csrf });
    expect(done.headers.location).toBe('/admin/retention?done=purged');
    expect(await f.pickup.describe(id)).toBeUndefined();
    const page = await later.request('GET', '/admin/retention?done=purged');
    expect(page.body).toContain('The purge ran');
    expect(page.body).toContain('by boss@clinic.test');
    expect(page.body).toMatch(/withdrawn pickups 1 · audit events 0/);
    const events = await f.deps.audit.list({ limit: 100 });
    const purge = events.filter((e) => e.action === 'retention.purge' || e.action === 'message.purged');
    expect(purge.map((e) => [e.action, e.actor, e.protocol, e.target])).toEqual([
      ['message.purged', 'boss@clinic.test', 'admin-console', id],
      ['retention.purge', 'boss@clinic.test', 'admin-console', null],
    ]);
    expect(purge[1].detail).toMatchObject({ pickups: 1, finishedMessages: 0 });
  });
});
