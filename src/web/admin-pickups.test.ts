import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createPortalFixture, type PortalFixture } from '../../test/helpers/browser.ts';
import { injectClient, signedInClient } from '../../test/helpers/web-inject.ts';
import { buildWebApp } from './app.ts';

const PASSWORD = 'correct horse battery';
const text = (content: string) => ({ kind: 'text' as const, contentType: 'text/plain', content });

describe('admin console: pickups (fastify.inject over SQLite)', () => {
  let fixture: PortalFixture | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await fixture?.cleanup();
  });

  async function setup() {
    fixture = await createPortalFixture({ gate: { maxFailures: 2, ipAttempts: 1000 } });
    app = buildWebApp(fixture.deps).app;
    await app.ready();
    await fixture.users.add('boss@clinic.test', PASSWORD);
    await fixture.users.roles.grant('boss@clinic.test', 'admin');
    await fixture.users.add('audit@clinic.test', PASSWORD);
    await fixture.users.roles.grant('audit@clinic.test', 'auditor');
    await fixture.users.roles.revoke('audit@clinic.test', 'sender').catch(() => undefined);
    return fixture;
  }

  const signIn = (user: string) => signedInClient(app!, 'admin', user, PASSWORD);

  it('lists pickups without their content, for admins only, filtered and paged', async () => {
    const f = await setup();
    const seen = await f.pickup.create({ sender: 'alice@clinic.test', recipient: 'bob@patient.test', subject: 'Lab results for Jane', verification: 'link', parts: [text('DIAGNOSIS-TEXT')] });
    await f.pickup.open(seen.id, { password: seen.messagePassword });
    for (let i = 0; i < 50; i++) await f.pickup.create({ sender: 'dave@clinic.test', recipient: `p${i}@patient.test`, subject: 'Invoice', verification: 'link', parts: [] });

    const guest = injectClient(app!);
    expect((await guest.request('GET', '/admin/pickups')).headers.location).toBe('/admin/login');
    const auditor = await signIn('audit@clinic.test');
    expect((await auditor.request('GET', '/admin/pickups')).statusCode).toBe(403);
    expect((await auditor.request('GET', '/admin/audit')).body).not.toContain('href="/admin/pickups"');

    const boss = await signIn('boss@clinic.test');
    const first = await boss.request('GET', '/admin/pickups');
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('href="/admin/pickups">Pickups</a>');
    expect(first.body.match(/class="card pickup"/g)).toHaveLength(50);
    expect(first.body).toContain('href="/admin/pickups?page=2" rel="next"');
    expect(first.body).not.toContain(seen.id); // the oldest, on page 2
    const second = await boss.request('GET', '/admin/pickups?page=2');
    expect(second.body).toContain(`id="pickup-${seen.id}"`);
    expect(second.body).toContain('href="/admin/pickups" rel="prev"');
    expect(second.body).toContain('alice@clinic.test → bob@patient.test');
    expect(second.body).toContain('<span class="state opened">opened</span>');
    expect(second.body).toContain('opened once');
    for (const page of [first.body, second.body]) {
      expect(page).not.toContain('Lab results');
      expect(page).not.toContain('Invoice');
      expect(page).not.toContain('DIAGNOSIS-TEXT');
    }
    const filtered = await boss.request('GET', '/admin/pickups?sender=ALICE&state=opened');
    expect(filtered.body.match(/class="card pickup"/g)).toHaveLength(1);
    expect(filtered.body).toContain('<option value="opened" selected>');
    expect((await boss.request('GET', '/admin/pickups?recipient=p4&state=opened')).body).toContain('No pickup matches.');
    // A filter's text is escaped back into the form.
    expect((await boss.request('GET', '/admin/pickups?sender=%22%3E%3Cscript%3E')).body).not.toContain('"><script>');
  });

  it('retracts a message (CSRF, confirmation, audited): the portal answers 410 and its reading session ends', async () => {
    const f = await setup();
    const { id, messagePassword } = await f.pickup.create({ sender: 'alice@clinic.test', recipient: 'bob@patient.test', subject: 'x', verification: 'link', parts: [text('hi')] });
    // Bob opens it in the portal and keeps his reading session.
    const bob = injectClient(app!);
    await bob.request('GET', `/m/${id}`);
    expect((await bob.request('POST', `/m/${id}`, { _csrf: bob.jar.get('__Host-sg-csrf')!, password: messagePassword })).headers.location).toBe(`/m/${id}/read`);
    expect((await bob.request('GET', `/m/${id}/read`)).statusCode).toBe(200);
    const readingSessions = async () => (await f.store.db.selectFrom('web_sessions').select('id').where('kind', '=', 'recipient').where('subject', '=', id).execute()).length;
    expect(await readingSessions()).toBe(1);

    const boss = await signIn('boss@clinic.test');
    expect((await boss.request('GET', '/admin/pickups')).body).toContain(`href="/admin/pickups/${id}/retract"`);
    const auditor = await signIn('audit@clinic.test');
    expect((await auditor.request('POST', `/admin/pickups/${id}/retract`, { _csrf: auditor.csrf, confirm: 'yes' })).statusCode).toBe(403);
    expect((await boss.request('POST', `/admin/pickups/${id}/retract`, { confirm: 'yes' })).statusCode).toBe(403); // no CSRF token
    expect((await boss.request('POST', `/admin/pickups/${id}/retract`, { _csrf: boss.csrf })).headers.location).toBe(`/admin/pickups/${id}/retract`);
    const ask = await boss.request('GET', `/admin/pickups/${id}/retract`);
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('The message from alice@clinic.test to bob@patient.test is destroyed for good');
    expect((await f.pickup.describe(id))?.state).toBe('active');
    expect((await boss.request('GET', '/admin/pickups/not-an-id/retract')).statusCode).toBe(404);

    const done = await boss.request('POST', `/admin/pickups/${id}/retract`, { _csrf: boss.csrf, confirm: 'yes' });
    expect(done.headers.location).toBe('/admin/pickups?done=retracted');
    expect(await readingSessions()).toBe(0);
    expect((await boss.request('GET', done.headers.location as string)).body).toContain('The message is retracted');
    expect((await bob.request('GET', `/m/${id}`)).statusCode).toBe(410);
    expect((await bob.request('GET', `/m/${id}/read`)).statusCode).not.toBe(200);
    expect((await boss.request('POST', `/admin/pickups/${id}/retract`, { _csrf: boss.csrf, confirm: 'yes' })).statusCode).toBe(409);
    expect((await boss.request('GET', `/admin/pickups?state=retracted`)).body).not.toContain(`href="/admin/pickups/${id}/retract"`);

    const events = await f.deps.audit.list({ action: 'pickup.', limit: 10 });
    expect(events.map((e) => [e.action, e.actor, e.target, e.protocol])).toEqual([['pickup.retract', 'boss@clinic.test', id, 'admin-console']]);
    expect(events[0].detail).toEqual({ sender: 'alice@clinic.test', recipient: 'bob@patient.test' });
    expect((await f.pickup.events(id)).map((e) => e.kind)).toContain('retracted');
  });

  it('unlocks a locked message (CSRF, audited), and only a locked one', async () => {
    const f = await setup();
    const { id, messagePassword } = await f.pickup.create({ sender: 'alice@clinic.test', recipient: 'bob@patient.test', subject: 'x', verification: 'passphrase', passphraseOrAnswer: 'blue moon', parts: [text('hi')] });
    const boss = await signIn('boss@clinic.test');
    expect((await boss.request('POST', `/admin/pickups/${id}/unlock`, { _csrf: boss.csrf })).statusCode).toBe(409);
    for (let i = 0; i < 2; i++) await f.pickup.open(id, { password: messagePassword, secret: 'wrong' }).catch(() => undefined);
    expect((await f.pickup.describe(id))?.state).toBe('locked');
    const bob = injectClient(app!);
    expect((await bob.request('GET', `/m/${id}`)).statusCode).toBe(423);

    const list = await boss.request('GET', '/admin/pickups?state=locked');
    expect(list.body).toContain(`action="/admin/pickups/${id}/unlock"`);
    expect(list.body).toContain('<span class="state locked">locked</span>');
    expect((await boss.request('POST', `/admin/pickups/${id}/unlock`, {})).statusCode).toBe(403); // no CSRF token
    const done = await boss.request('POST', `/admin/pickups/${id}/unlock`, { _csrf: boss.csrf });
    expect(done.headers.location).toBe('/admin/pickups?done=unlocked');
    expect((await f.pickup.describe(id))).toMatchObject({ state: 'active', attemptsLeft: 2 });
    expect((await bob.request('GET', `/m/${id}`)).statusCode).toBe(200);
    const events = await f.deps.audit.list({ action: 'pickup.', limit: 10 });
    expect(events.map((e) => [e.action, e.actor, e.target])).toEqual([['pickup.unlock', 'boss@clinic.test', id]]);
  });
});
