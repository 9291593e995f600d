import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createPortalFixture, type PortalFixture } from '../../test/helpers/browser.ts';
import { injectClient, multipart } from '../../test/helpers/web-inject.ts';
import { buildWebApp } from './app.ts';

describe('web tier (fastify.inject over SQLite)', () => {
  let fixture: PortalFixture | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await fixture?.cleanup();
    app = undefined;
  });

  let now = Date.now();
  const clock = { now: () => now };

  async function setup(gate: { ipAttempts?: number } = {}) {
    now = Date.now();
    fixture = await createPortalFixture({ clock, gate, config: { web: { idleTimeoutMs: 60_000 } } });
    app = buildWebApp(fixture.deps).app;
    await app.ready();
    const { jar, request } = injectClient(app);
    return { fixture, jar, request };
  }

  it('sets the security headers, a nonce that matches the page script, and __Host- cookies', async () => {
    const { fixture, request } = await setup();
    const { id } = await fixture.pickup.create({ sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 's', verification: 'link', parts: [] });
    const response = await request('GET', `/m/${id}`);
    expect(response.statusCode).toBe(200);
    const csp = String(response.headers['content-security-policy']);
    const nonce = csp.match(/script-src 'nonce-([A-Za-z0-9+/=]+)'/)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toBe(`default-src 'none'; script-src 'nonce-${nonce}'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`);
    expect(response.body).toContain(`<script nonce="${nonce}">`);
    expect(response.body.match(/<script/g)).toHaveLength(1);
    expect(response.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['x-frame-options']).toBe('DENY');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toContain('name="viewport"');
    const csrf = response.cookies.find((c) => c.name === '__Host-sg-csrf')!;
    expect(csrf).toMatchObject({ path: '/', secure: true, httpOnly: true, sameSite: 'Strict' });
    expect(csrf.domain).toBeUndefined();
    // Another request gets another nonce.
    const again = await request('GET', `/m/${id}`);
    expect(again.headers['content-security-policy']).not.toContain(nonce!);
    // Error pages carry the headers too.
    const missing = await request('GET', '/no/such/page');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('refuses every POST whose CSRF token does not repeat the cookie', async () => {
    const { fixture, jar, request } = await setup();
    const { id, messagePassword } = await fixture.pickup.create({ sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 's', verification: 'link', parts: [] });
    await request('GET', `/m/${id}`);
    expect((await request('POST', `/m/${id}`, { password: messagePassword })).statusCode).toBe(403);
    expect((await request('POST', `/m/${id}`, { password: messagePassword, _csrf: 'A'.repeat(43) })).statusCode).toBe(403);
    expect((await request('POST', '/console/login', { username: 'a', password: 'b' })).statusCode).toBe(403);
    const upload = multipart([['text', 'hi']], []);
    expect((await request('POST', `/m/${id}/reply`, undefined, { headers: { 'content-type': upload.type }, payload: upload.body })).statusCode).toBe(403);
    // Nothing was opened by the refused posts.
    expect((await fixture.pickup.events(id)).map((e) => e.kind)).toEqual(['created']);
    const ok = await request('POST', `/m/${id}`, { password: messagePassword, _csrf: jar.get('__Host-sg-csrf')! });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe(`/m/${id}/read`);
  });

  it('opens a message by one-time code, shows it sanitised, streams the attachment and takes a reply', async () => {
    const { fixture, jar, request } = await setup();
    const attachment = randomBytes(700 * 1024);
    const { id, messagePassword } = await fixture.pickup.create({
      sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 'Q3 <figures>', verification: 'code', readNotice: true,
      parts: [
        { kind: 'text', contentType: 'text/plain', content: 'Plain <b>text</b>' },
        { kind: 'html', contentType: 'text/html', content: '<p>Hi</p><script>alert(1)</script><img src="http://evil.test/b.gif" onerror="alert(2)">' },
        { kind: 'attachment', contentType: 'application/pdf', filename: 'Bericht "Q3" ü.pdf', content: attachment },
      ],
    });
    const form = await request('GET', `/m/${id}`);
    expect(form.body).toContain('E-mail me a code');
    const csrf = jar.get('__Host-sg-csrf')!;
    const sent = await request('POST', `/m/${id}/code`, { _csrf: csrf });
    expect(sent.headers.location).toBe(`/m/${id}?sent=1`);
    const code = fixture.lastCode('bob@dest.test');
    expect(fixture.mails[0].raw.toString()).not.toContain('Q3');

    const wrong = await request('POST', `/m/${id}`, { _csrf: csrf, password: messagePassword, code: code === '000000' ? '111111' : '000000' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('The code is not right');
    await request('POST', `/m/${id}/code`, { _csrf: csrf });
    const opened = await request('POST', `/m/${id}`, { _csrf: csrf, password: messagePassword, code: fixture.lastCode('bob@dest.test') });
    expect(opened.statusCode).toBe(303);
    const read = opened.cookies.find((c) => c.name === '__Host-sg-read')!;
    expect(read).toMatchObject({ path: '/', secure: true, httpOnly: true, sameSite: 'Strict' });
    expect(fixture.mails.at(-1)!.envelope.to).toEqual(['alice@example.test']);

    const page = await request('GET', `/m/${id}/read`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Q3 &lt;figures&gt;');
    expect(page.body).toContain('Plain &lt;b&gt;text&lt;/b&gt;');
    expect(page.body).toMatch(/<iframe[^>]* sandbox="allow-popups allow-popups-to-escape-sandbox allow-same-origin"[^>]* src="\/m\/[^"]+\/body"/);
    const frame = await request('GET', `/m/${id}/body`);
    expect(frame.statusCode).toBe(200);
    expect(frame.body).toContain('<p>Hi</p>');
    expect(frame.body).not.toMatch(/<script|onerror|evil\.test/);
    expect(frame.headers['content-security-policy']).toMatch(/^default-src 'none'; img-src data:; style-src 'unsafe-inline';.*frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox allow-same-origin$/);
    expect(frame.headers['x-frame-options']).toBe('SAMEORIGIN');

    const download = await request('GET', `/m/${id}/part/2`);
    expect(download.statusCode).toBe(200);
    expect(download.headers['content-length']).toBe(String(attachment.length));
    expect(download.headers['content-type']).toBe('application/octet-stream');
    expect(download.headers['content-disposition']).toBe(`attachment; filename="Bericht _Q3_ _.pdf"; filename*=UTF-8''Bericht%20%22Q3%22%20%C3%BC.pdf`);
    expect(download.rawPayload.equals(attachment)).toBe(true);

    const file = randomBytes(2000);
    const upload = multipart([['_csrf', csrf], ['text', 'Thanks, signed.']], [{ name: 'files', filename: 'signed.bin', type: 'application/octet-stream', content: file }, { name: 'files', filename: '', type: 'application/octet-stream', content: Buffer.alloc(0) }]);
    const replied = await request('POST', `/m/${id}/reply`, undefined, { headers: { 'content-type': upload.type }, payload: upload.body });
    expect(replied.statusCode).toBe(303);
    const [summary] = await fixture.pickup.replies.list(id);
    const reply = await fixture.pickup.replies.open(summary.replyId);
    expect(reply.parts.map((p) => [p.kind, p.filename, p.size])).toEqual([['text', null, 15], ['attachment', 'signed.bin', 2000]]);
    expect((await fixture.pickup.events(id)).map((e) => e.kind)).toEqual(['created', 'code-sent', 'failed-attempt', 'code-sent', 'opened', 'read-notice-sent', 'downloaded', 'replied']);
    // Issue 13's lifecycle audit: opened and replied are chain events, with nothing of the content.
    const events = (await fixture.deps.audit.list({ target: id })).filter((e) => e.action.startsWith('message.'));
    expect(events.map((e) => [e.action, e.actor, e.protocol])).toEqual([['message.opened', 'bob@dest.test', 'portal'], ['message.replied', 'bob@dest.test', 'portal']]);
    expect(events[0].detail).toEqual({ sender: 'alice@example.test', firstOpen: true, newBrowser: false });
    expect(events[1].detail).toMatchObject({ reply: summary.replyId, to: 'alice@example.test', files: 1 });
    const written = JSON.stringify(events);
    for (const secret of [messagePassword, 'Q3', 'Thanks, signed', 'signed.bin']) expect(written).not.toContain(secret);
  });

  it('shows clear pages for a wrong password, a locked, a withdrawn and an unknown message', async () => {
    const { fixture, jar, request } = await setup();
    const { id, messagePassword } = await fixture.pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 's', verification: 'passphrase', passphraseOrAnswer: 'open sesame', parts: [] });
    await request('GET', `/m/${id}`);
    const csrf = jar.get('__Host-sg-csrf')!;
    const wrong = await request('POST', `/m/${id}`, { _csrf: csrf, password: messagePassword, secret: 'nope' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('not right');
    for (let i = 0; i < 9; i++) await request('POST', `/m/${id}`, { _csrf: csrf, password: messagePassword, secret: 'nope' });
    const locked = await request('GET', `/m/${id}`);
    expect(locked.statusCode).toBe(423);
    expect(locked.body).toContain('locked after too many failed attempts');
    expect((await request('POST', `/m/${id}`, { _csrf: csrf, password: messagePassword, secret: 'open sesame' })).statusCode).toBe(423);

    const other = await fixture.pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 's', verification: 'link', parts: [] });
    await fixture.pickup.retract(other.id);
    const withdrawn = await request('GET', `/m/${other.id}`);
    expect(withdrawn.statusCode).toBe(410);
    expect(withdrawn.body).toContain('withdrawn');
    expect((await request('GET', `/m/${'A'.repeat(22)}`)).statusCode).toBe(404);
    expect((await request('GET', '/m/short')).statusCode).toBe(404);
  });

  it('answers 429 with a clear message when an address runs out of attempts', async () => {
    const { fixture, jar, request } = await setup({ ipAttempts: 2 });
    const { id, messagePassword } = await fixture.pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 's', verification: 'link', parts: [] });
    await request('GET', `/m/${id}`);
    const csrf = jar.get('__Host-sg-csrf')!;
    for (let i = 0; i < 2; i++) expect((await request('POST', `/m/${id}`, { _csrf: csrf, password: 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA' })).statusCode).toBe(401);
    const limited = await request('POST', `/m/${id}`, { _csrf: csrf, password: messagePassword });
    expect(limited.statusCode).toBe(429);
    expect(limited.body).toContain('Too many attempts from your address');
  });

  it('logs a sender in, shows their messages only, retracts, and logs off after the idle time', async () => {
    const { fixture, jar, request } = await setup();
    await fixture.users.add('alice@example.test', 'correct horse battery');
    const mine = await fixture.pickup.create({ sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 's', verification: 'link', parts: [] });
    const theirs = await fixture.pickup.create({ sender: 'eve@example.test', recipient: 'carol@dest.test', subject: 's', verification: 'link', parts: [] });
    expect((await request('GET', '/console')).headers.location).toBe('/console/login');
    await request('GET', '/console/login');
    const csrf = jar.get('__Host-sg-csrf')!;
    const failed = await request('POST', '/console/login', { _csrf: csrf, username: 'alice@example.test', password: 'wrong password!' });
    expect(failed.statusCode).toBe(401);
    // The address typed stays in its field (issue 10 item 12).
    expect(failed.body).toContain('name="username" value="alice@example.test"');
    const login = await request('POST', '/console/login', { _csrf: csrf, username: 'alice@example.test', password: 'correct horse battery' });
    expect(login.headers.location).toBe('/console');
    const list = await request('GET', '/console');
    expect(list.body).toContain('bob@dest.test');
    expect(list.body).not.toContain('carol@dest.test');
    expect((await request('GET', `/console/m/${theirs.id}`)).statusCode).toBe(404);
    expect((await request('POST', `/console/m/${theirs.id}/retract`, { _csrf: csrf })).statusCode).toBe(404);
    // Retraction asks first (issue 10 item 6): the page, or a POST without confirm=yes, changes nothing.
    const ask = await request('GET', `/console/m/${mine.id}/retract`);
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toMatch(/<form method="post" action="\/console\/m\/[^"]+\/retract"><input type="hidden" name="_csrf" value="[^"]+"><input type="hidden" name="confirm" value="yes">/);
    expect((await request('POST', `/console/m/${mine.id}/retract`, { _csrf: csrf })).statusCode).toBe(200);
    expect((await fixture.pickup.describe(mine.id))?.state).toBe('active');
    const retract = await request('POST', `/console/m/${mine.id}/retract`, { _csrf: csrf, confirm: 'yes' });
    expect(retract.headers.location).toBe(`/console/m/${mine.id}?done=retracted`);
    const detail = await request('GET', retract.headers.location as string);
    expect(detail.body).toContain('retracted');
    expect(detail.body).toMatch(/id="access-log"[\s\S]*created[\s\S]*retracted/);
    expect((await request('GET', `/m/${mine.id}`)).statusCode).toBe(410);

    now += 61_000;
    expect((await request('GET', '/console')).headers.location).toBe('/console/login?idle=1');
    expect((await request('GET', '/console/login?idle=1')).body).toContain('signed out after 1 minute without activity');
  });
});
