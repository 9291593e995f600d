import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Secret, TOTP } from 'otpauth';
import { afterEach, describe, expect, it } from 'vitest';
import { createPortalFixture, type PortalFixture } from '../../test/helpers/browser.ts';
import { injectClient, signedInClient } from '../../test/helpers/web-inject.ts';
import { AuditLog } from '../audit/index.ts';
import { complianceReport } from '../compliance-report.ts';
import { gatherComplianceFacts } from '../compliance-facts.ts';
import { LinkPins, LinkSecurityMemory } from '../linksec/index.ts';
import { Queue } from '../queue/index.ts';
import { openBlobStore } from '../store/index.ts';
import { createVault } from '../vault/index.ts';
import { buildWebApp } from './app.ts';

const PASSWORD = 'correct horse battery';

describe('admin console (fastify.inject over SQLite)', () => {
  let fixture: PortalFixture | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await fixture?.cleanup();
  });

  async function setup() {
    fixture = await createPortalFixture();
    app = buildWebApp(fixture.deps).app;
    await app.ready();
    await fixture.users.add('boss@clinic.test', PASSWORD);
    await fixture.users.roles.grant('boss@clinic.test', 'admin');
    await fixture.users.add('nurse@clinic.test', PASSWORD);
    return fixture;
  }

  const signIn = (user: string, area: 'admin' | 'console' = 'admin') => signedInClient(app!, area, user, PASSWORD);

  it('lets only admins in, with their own session; a sender session does not open it', async () => {
    await setup();
    const nurse = await signIn('nurse@clinic.test');
    expect(nurse.response.statusCode).toBe(403);
    expect(nurse.response.body).toContain('not an administrator');
    const sender = await signIn('nurse@clinic.test', 'console');
    expect(sender.response.headers.location).toBe('/console');
    expect((await sender.request('GET', '/admin')).headers.location).toBe('/admin/login');
    const boss = await signIn('boss@clinic.test');
    expect(boss.response.headers.location).toBe('/admin');
    const users = await boss.request('GET', '/admin');
    expect(users.statusCode).toBe(200);
    expect(users.body).toContain('nurse@clinic.test');
    expect(users.body).toContain('Roles: admin, sender');
    // The role is read on every request.
    await fixture!.users.roles.revoke('boss@clinic.test', 'admin');
    expect((await boss.request('GET', '/admin')).headers.location).toBe('/admin/login');
  });

  it("an auditor's shorter idle limit holds on their admin-console session and its page timer (attacker's pass, issue 13)", async () => {
    // Before: every admin-console session got the admin limit, whatever web.idleTimeoutByRole.auditor said.
    fixture = await createPortalFixture({ config: { web: { idleTimeoutByRole: { auditor: 60_000 } } } });
    app = buildWebApp(fixture.deps).app;
    await app.ready();
    await fixture.users.add('audit@clinic.test', PASSWORD);
    await fixture.users.roles.grant('audit@clinic.test', 'auditor');
    const auditor = await signIn('audit@clinic.test');
    const row = await fixture.store.db.selectFrom('web_sessions').select('idle_ms').where('subject', '=', 'audit@clinic.test').where('kind', '=', 'admin').executeTakeFirstOrThrow();
    expect(Number(row.idle_ms)).toBe(60_000);
    expect((await auditor.request('GET', '/admin/audit')).body).toContain('60000');
  });

  it('locks and unlocks an account (audited, CSRF-checked, not oneself), and shows and exports the audit log', async () => {
    await setup();
    const boss = await signIn('boss@clinic.test');
    expect((await boss.request('POST', '/admin/users/lock', { username: 'nurse@clinic.test', lock: '1' })).statusCode).toBe(403); // no CSRF token
    expect((await boss.request('POST', '/admin/users/lock', { _csrf: boss.csrf, username: 'boss@clinic.test', lock: '1' })).statusCode).toBe(409);
    expect((await boss.request('POST', '/admin/users/lock', { _csrf: boss.csrf, username: 'nobody@clinic.test', lock: '1' })).statusCode).toBe(404);
    expect((await boss.request('POST', '/admin/users/lock', { _csrf: boss.csrf, username: 'nurse@clinic.test', lock: '1' })).headers.location).toBe('/admin?done=locked');
    expect((await signIn('nurse@clinic.test', 'console')).response.statusCode).toBe(403);
    expect((await boss.request('GET', '/admin')).body).toContain('Locked by an administrator.');
    expect((await boss.request('POST', '/admin/users/lock', { _csrf: boss.csrf, username: 'nurse@clinic.test', lock: '0' })).headers.location).toBe('/admin?done=unlocked');

    const audit = await boss.request('GET', '/admin/audit?action=user.');
    expect(audit.statusCode).toBe(200);
    expect(audit.body.match(/class="card event"/g)).toHaveLength(2);
    expect(audit.body.indexOf('user.unlock')).toBeLessThan(audit.body.indexOf('user.lock<')); // newest first
    const csv = await boss.request('GET', '/admin/audit.csv?action=user.');
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toBe('attachment; filename="sealgate-audit.csv"');
    expect(csv.body.split('\r\n')[0]).toBe('seq,at,node,actor,action,target,ip,protocol,detail,prev_hash,hash');
    expect(csv.body).toContain('boss@clinic.test,user.lock,nurse@clinic.test');
    const json = JSON.parse((await boss.request('GET', '/admin/audit.json?actor=boss@clinic.test&since=2000-01-01')).body) as { action: string }[];
    expect(json.map((e) => e.action)).toEqual(['user.lock', 'user.unlock', 'audit.export']);
  });
  it('opens one emergency session with the sealed credential, audited and mailed to every admin; never twice', async () => {
    await setup();
    await fixture!.users.setLocked('boss@clinic.test', true);
    expect((await signIn('boss@clinic.test')).response.statusCode).toBe(403);
    const credential = await fixture!.users.breakGlass.rotate();
    const guest = injectClient(app!);
    const form = await guest.request('GET', '/admin/break-glass');
    expect(form.statusCode).toBe(200);
    const csrf = guest.jar.get('__Host-sg-csrf')!;
    expect((await guest.request('POST', '/admin/break-glass', { credential, reason: 'x' })).statusCode).toBe(403); // no CSRF token
    expect((await guest.request('POST', '/admin/break-glass', { _csrf: csrf, credential, reason: '  ' })).statusCode).toBe(400);
    const wrong = await guest.request('POST', '/admin/break-glass', { _csrf: csrf, credential: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA', reason: 'all admins locked out' });
    expect(wrong.statusCode).toBe(401);
    expect(guest.jar.get('__Host-sg-admin')).toBeUndefined();
    const opened = await guest.request('POST', '/admin/break-glass', { _csrf: csrf, credential: credential.toLowerCase(), reason: 'all admins locked out <b>now</b>' });
    expect(opened.headers.location).toBe('/admin');
    const users = await guest.request('GET', '/admin');
    expect(users.statusCode).toBe(200);
    expect(users.body).toContain('Emergency access: every action of this session is audited');
    // The emergency admin unlocks the real one; the audit names the emergency actor.
    expect((await guest.request('POST', '/admin/users/lock', { _csrf: csrf, username: 'boss@clinic.test', lock: '0' })).headers.location).toBe('/admin?done=unlocked');
    const events = await fixture!.deps.audit.list({ actor: '#break-glass', limit: 100 });
    expect(events.map((e) => e.action)).toEqual(['break-glass.refused', 'break-glass.used', 'user.unlock']);
    expect(events[1].detail).toMatchObject({ reason: 'all admins locked out <b>now</b>' });
    const mail = fixture!.mails.find((m) => m.envelope.to.includes('boss@clinic.test'));
    expect(mail?.raw.toString()).toContain('Emergency access to the Sealgate admin console was used');
    expect(fixture!.mails.some((m) => m.envelope.to.includes('nurse@clinic.test'))).toBe(false);
    // Spent: the same credential does not open a second session.
    const again = injectClient(app!);
    await again.request('GET', '/admin/break-glass');
    expect((await again.request('POST', '/admin/break-glass', { _csrf: again.jar.get('__Host-sg-csrf')!, credential, reason: 'again' })).statusCode).toBe(401);
  });
  it('shows the HIPAA safeguards report from the live records, with its warnings', async () => {
    fixture = await createPortalFixture();
    const f = fixture;
    const compliance = async () => complianceReport(f.deps.config, await gatherComplianceFacts({ store: f.store, users: f.users, audit: f.deps.audit as AuditLog, clock: f.deps.clock }));
    app = buildWebApp({ ...f.deps, compliance }).app;
    await app.ready();
    await f.users.add('boss@clinic.test', PASSWORD);
    await f.users.roles.grant('boss@clinic.test', 'admin');
    const boss = await signIn('boss@clinic.test');
    const before = await boss.request('GET', '/admin/compliance');
    expect(before.statusCode).toBe(200);
    expect(before.body).toContain('164.312(a)(2)(ii)');
    expect(before.body).toMatch(/make one with .{1,6}sealgate break-glass rotate.{1,6} and seal it/);
    await f.users.breakGlass.rotate();
    const after = await boss.request('GET', '/admin/compliance');
    expect(after.body).toContain('a sealed emergency access credential is ready');
    expect(after.body).not.toContain('make one with');
  });
  it('shows the queue without any content, and retries and deletes a message (audited, CSRF-checked)', async () => {
    fixture = await createPortalFixture();
    const f = fixture;
    const queue = new Queue({ store: f.store, blobs: openBlobStore(path.join(f.dir, 'blobs')), vault: createVault(randomBytes(32)), clock: f.deps.clock, logger: f.deps.logger });
    app = buildWebApp({ ...f.deps, queue }).app;
    await app.ready();
    await f.users.add('boss@clinic.test', PASSWORD);
    await f.users.roles.grant('boss@clinic.test', 'admin');
    const body = Buffer.from('Subject: Lab results for <b>Jane</b>\r\n\r\nDIAGNOSIS-TEXT\r\n');
    const { id } = await queue.enqueue({ mailFrom: 'nurse@clinic.test', recipients: [{ address: 'lab@partner.test' }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' }, Readable.from([body]));
    const nurse = await signIn('nurse@clinic.test');
    expect((await nurse.request('GET', '/admin/queue')).statusCode).toBe(303);
    const boss = await signIn('boss@clinic.test');
    const list = await boss.request('GET', '/admin/queue?state=active');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain(`/admin/queue/${id}`);
    expect(list.body).toContain('lab@partner.test: queued');
    const detail = await boss.request('GET', `/admin/queue/${id}`);
    expect(detail.statusCode).toBe(200);
    expect(detail.body).toContain('nurse@clinic.test');
    expect(detail.body).not.toContain('DIAGNOSIS-TEXT');
    expect(detail.body).not.toContain('Lab results');
    expect((await boss.request('GET', '/admin/queue/not-an-id')).statusCode).toBe(404);
    expect((await boss.request('GET', '/admin/queue/AAAAAAAAAAAAAAAA')).statusCode).toBe(404);
    expect((await boss.request('POST', `/admin/queue/${id}/delete`, {})).statusCode).toBe(403); // no CSRF token
    expect((await boss.request('POST', `/admin/queue/${id}/retry`, { _csrf: boss.csrf })).headers.location).toMatch(new RegExp(`^/admin/queue/${id}\\?done=`));
    expect((await boss.request('POST', `/admin/queue/${id}/delete`, { _csrf: boss.csrf })).headers.location).toBe('/admin/queue?done=deleted');
    expect(await queue.show(id)).toBeNull();
    const events = await f.deps.audit.list({ action: 'queue.', limit: 10 });
    expect(events.map((e) => [e.action, e.actor, e.target])).toEqual([['queue.retry', 'boss@clinic.test', id], ['queue.delete', 'boss@clinic.test', id]]);
    expect(events[1].detail).toMatchObject({ removed: true, mailFrom: 'nurse@clinic.test', recipients: [{ address: 'lab@partner.test', state: 'queued' }] });
  });
  it('lists our domains, the TLS policy, pins and what each MX proved (read-only)', async () => {
    fixture = await createPortalFixture({ config: { domains: { 'clinic.test': { smarthost: 'mail.clinic.test:25' } }, delivery: { tlsPolicies: { 'lab.test': 'verified' } } } });
    const f = fixture;
    app = buildWebApp(f.deps).app;
    await app.ready();
    await f.users.add('boss@clinic.test', PASSWORD);
    await f.users.roles.grant('boss@clinic.test', 'admin');
    await new LinkPins(f.store).pin('xray.test', 'dane', 'radiology partner', Date.now());
    await new LinkSecurityMemory(f.store).record({ domain: 'lab.test', mxHost: 'mx1.lab.test', ip: '192.0.2.25', starttlsOffered: true, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSubject: 'mx1.lab.test', certValid: true, certError: null, requireTlsAdvertised: false, error: null, at: Date.now() });
    const boss = await signIn('boss@clinic.test');
    const page = await boss.request('GET', '/admin/domains');
    expect(page.statusCode).toBe(200);
    for (const text of ['clinic.test → mail.clinic.test:25', 'lab.test: verified', 'Every other destination: opportunistic.', 'xray.test: dane', 'radiology partner', 'mx1.lab.test', 'tls-verified', 'TLSv1.3 TLS_AES_256_GCM_SHA384']) expect(page.body).toContain(text);
  });
  it('creates accounts, requires a second factor per role, and the next sign-in sets it up before anything opens; auditors see only the audit log', async () => {
    await setup();
    const boss = await signIn('boss@clinic.test');
    // Weak first passwords get the account rules' own sentence, and nothing is created.
    const weak = await boss.request('POST', '/admin/users', { _csrf: boss.csrf, username: 'weak@clinic.test', password: 'password1234', role: 'sender' });
    expect(weak.statusCode).toBe(400);
    expect(weak.body).toContain('known from breaches');
    expect((await boss.request('POST', '/admin/users', { _csrf: boss.csrf, username: 'audit@clinic.test', password: PASSWORD, role: 'auditor' })).headers.location).toBe('/admin?done=created');
    expect(await fixture!.users.rolesOf('audit@clinic.test')).toEqual(['auditor']);
    expect((await boss.request('POST', '/admin/users/second-factor', { _csrf: boss.csrf, required: ['auditor', 'sender'] })).headers.location).toBe('/admin?done=factors');
    expect(await fixture!.users.requiredSecondFactorRoles()).toEqual(['auditor', 'sender']);

    // The auditor's right password opens only the set-up page.
    const auditor = injectClient(app!);
    await auditor.request('GET', '/admin/login');
    const csrf = auditor.jar.get('__Host-sg-csrf')!;
    const login = await auditor.request('POST', '/admin/login', { _csrf: csrf, username: 'audit@clinic.test', password: PASSWORD });
    expect(login.headers.location).toBe('/admin/second-factor');
    expect((await auditor.request('GET', '/admin/audit')).headers.location).toBe('/admin/login');
    const setupPage = await auditor.request('GET', '/admin/second-factor');
    const secret = /<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(setupPage.body)![1];
    expect(setupPage.body).toContain('otpauth://totp/');
    expect((await auditor.request('POST', '/admin/second-factor', { _csrf: csrf, code: '000000' })).statusCode).toBe(400);
    // A mistyped code shows the same key again: the app already holds it.
    expect((await auditor.request('GET', '/admin/second-factor')).body).toContain(secret);
    const code = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();
    const done = await auditor.request('POST', '/admin/second-factor', { _csrf: csrf, code });
    expect(done.statusCode).toBe(200);
    expect(done.body.match(/<li><code>/g)).toHaveLength(10);
    expect(await fixture!.users.hasSecondFactor('audit@clinic.test')).toBe(true);
    // Signed in as an auditor now: the audit log and the report, not the accounts or the queue.
    expect((await auditor.request('GET', '/admin/audit')).statusCode).toBe(200);
    expect((await auditor.request('GET', '/admin')).headers.location).toBe('/admin/audit');
    expect((await auditor.request('GET', '/admin/domains')).statusCode).toBe(403);
    expect((await auditor.request('POST', '/admin/users/lock', { _csrf: csrf, username: 'boss@clinic.test', lock: '1' })).statusCode).toBe(403);
    // With a factor on, the set-up page does not open again (a stolen session cannot swap it).
    expect((await auditor.request('GET', '/admin/second-factor')).headers.location).toBe('/admin/login');
    const events = await fixture!.deps.audit.list({ limit: 100 });
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['user.add', 'login.second-factor-required', 'user.totp.enable']));
  });
});
