import type { FastifyInstance } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import { afterEach, describe, expect, it } from 'vitest';
import { createPortalFixture, type PortalFixture } from '../../test/helpers/browser.ts';
import { injectClient, multipart, signedInClient, type Upload } from '../../test/helpers/web-inject.ts';
import { LinkSecurityMemory } from '../linksec/index.ts';
import type { PickupEventKind } from '../pickup/index.ts';
import { buildWebApp } from './app.ts';

/*
 * The sender console of issue 10 (items 3, 6, 7, 8, 9, 12) over fastify.inject: one entry per
 * composition with its sealed subject, files and recipients, search, retraction that asks
 * first and can take all recipients at once, replies that reach the sender and a "Reply"
 * that continues the thread, the weak-link question before sending.
 */

const PASSWORD = 'correct horse battery';

/** The notice's link id and message password (quoted-printable undone). */
function linkIn(raw: Buffer): { id: string; password: string } {
  const text = raw.toString('utf8').replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  const match = text.match(/https:\/\/\S+\/m\/([A-Za-z0-9_-]{22})#(\S+)/);
  if (!match) throw new Error('no pickup link in the notice');
  return { id: match[1]!, password: decodeURIComponent(match[2]!) };
}

describe('sender console (fastify.inject over SQLite)', () => {
  let fixture: PortalFixture | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await fixture?.cleanup();
    app = undefined;
    fixture = undefined;
  });

  async function setup() {
    fixture = await createPortalFixture({ gate: { maxFailures: 2, ipAttempts: 1000 } });
    await new LinkSecurityMemory(fixture.store).record({
      domain: 'dest.test', mxHost: 'mx.dest.test', ip: '127.0.0.1', starttlsOffered: true, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSubject: 'mx.dest.test',
      certValid: true, certError: null, requireTlsAdvertised: false, error: null, at: Date.now(),
    });
    app = buildWebApp(fixture.deps).app;
    await app.ready();
    return fixture;
  }

  /** A browser-like client signed in as `user`. */
  async function signedIn(user: string) {
    await fixture!.users.add(user, PASSWORD).catch(() => undefined);
    const client = injectClient(app!);
    await client.request('GET', '/console/login');
    const csrf = client.jar.get('__Host-sg-csrf')!;
    expect((await client.request('POST', '/console/login', { _csrf: csrf, username: user, password: PASSWORD })).headers.location).toBe('/console');
    const compose = (fields: Record<string, string>, files: Upload[] = []) => {
      const upload = multipart(Object.entries({ _csrf: csrf, verification: 'link', days: '7', text: 'Please see the attachment.', ...fields }), files);
      return client.request('POST', '/console/compose', undefined, { headers: { 'content-type': upload.type }, payload: upload.body });
    };
    return { ...client, csrf, compose };
  }

  /** The recipient's browser: opens the link, reads, replies. */
  async function recipient(link: { id: string; password: string }) {
    const client = injectClient(app!);
    await client.request('GET', `/m/${link.id}`);
    const csrf = client.jar.get('__Host-sg-csrf')!;
    expect((await client.request('POST', `/m/${link.id}`, { _csrf: csrf, password: link.password })).headers.location).toBe(`/m/${link.id}/read`);
    const reply = (text: string) => {
      const upload = multipart([['_csrf', csrf], ['text', text]], [{ name: 'files', filename: 'signed-form.pdf', type: 'application/pdf', content: Buffer.from('%PDF-1.4 signed') }]);
      return client.request('POST', `/m/${link.id}/reply`, undefined, { headers: { 'content-type': upload.type }, payload: upload.body });
    };
    return { ...client, read: () => client.request('GET', `/m/${link.id}/read`), reply };
  }

  it('lists one entry per composition with subject, files and each recipient; searches it; retracts all after asking', async () => {
    const fixture = await setup();
    const alice = await signedIn('alice@example.test');
    const file = { filename: 'lab-results-march.pdf', type: 'application/pdf', content: Buffer.from('%PDF-1.4 results') };
    expect((await alice.compose({ recipients: 'bob@dest.test, carol@dest.test', subject: 'Your lab results' }, [file])).headers.location).toBe('/console?sent=2');
    expect((await alice.compose({ recipients: 'dave@dest.test', subject: 'Invoice 42' })).headers.location).toBe('/console?sent=1');

    const list = (await alice.request('GET', '/console')).body;
    const entries = list.split('<li class="card composition">').slice(1);
    expect(entries).toHaveLength(2);
    expect(entries[1]).toContain('Your lab results');
    expect(entries[1]).toContain('1 attachment: lab-results-march.pdf');
    expect(entries[1]).toMatch(/bob@dest\.test[\s\S]*notice sent[\s\S]*carol@dest\.test[\s\S]*notice sent/);
    expect(entries[0]).toContain('Invoice 42');

    const search = (q: string) => alice.request('GET', `/console?q=${encodeURIComponent(q)}`).then((r) => r.body);
    expect(await search('LAB results')).toContain('Your lab results');
    expect(await search('LAB results')).not.toContain('Invoice 42');
    expect(await search('lab-results-march')).toContain('Your lab results');
    expect(await search('dave@')).toContain('Invoice 42');
    expect(await search('no such thing')).toContain('No secure message matches “no such thing”');

    const [bob] = (await fixture.pickup.sent.list('alice@example.test', { query: 'lab' })).compositions[0]!.messages;
    const page = (await alice.request('GET', `/console/m/${bob!.id}`)).body;
    expect(page).toContain('<h1 id="subject">Your lab results</h1>');
    expect(page).toContain('id="composition"');
    expect(page).toContain('href="/console/m/' + bob!.id + '/retract-all" id="retract-all">Retract for all 2 recipients…');

    // Asks first; a POST without confirm=yes changes nothing.
    const ask = await alice.request('GET', `/console/m/${bob!.id}/retract-all`);
    expect(ask.body).toContain('all 2 recipients: bob@dest.test, carol@dest.test');
    expect((await alice.request('POST', `/console/m/${bob!.id}/retract-all`, { _csrf: alice.csrf })).statusCode).toBe(200);
    expect((await fixture.pickup.sent.composition('alice@example.test', bob!.id)).map((m) => m.state)).toEqual(['active', 'active']);
    const done = await alice.request('POST', `/console/m/${bob!.id}/retract-all`, { _csrf: alice.csrf, confirm: 'yes' });
    expect(done.headers.location).toBe(`/console/m/${bob!.id}?done=retracted-all`);
    expect((await fixture.pickup.sent.composition('alice@example.test', bob!.id)).map((m) => m.state)).toEqual(['retracted', 'retracted']);
    // Each retraction is an event in the audit chain, by the sender, from the console.
    const audited = await fixture.store.db.selectFrom('audit_events').select(['actor', 'action', 'protocol', 'target']).orderBy('seq').execute();
    expect(audited.filter((e) => e.action === 'pickup.retract')).toEqual([
      expect.objectContaining({ actor: 'alice@example.test', protocol: 'console' }),
      expect.objectContaining({ actor: 'alice@example.test', protocol: 'console' }),
    ]);
    const after = (await alice.request('GET', '/console')).body;
    expect(after).toContain('(subject destroyed with the message)');
    expect(after).not.toContain('Your lab results');
    expect(await search('lab results')).toContain('No secure message matches');

    // Another sender sees none of it.
    const mallory = await signedIn('mallory@example.test');
    expect((await mallory.request('GET', '/console?q=invoice')).body).toContain('No secure message matches');
    expect((await mallory.request('GET', `/console/m/${bob!.id}`)).statusCode).toBe(404);
    expect((await mallory.request('GET', `/console/m/${bob!.id}/retract-all`)).statusCode).toBe(404);
  });

  it('asks before sending when a notice would cross a link below tls-verified, and offers a passphrase', async () => {
    const fixture = await setup();
    const alice = await signedIn('alice@example.test');
    const weak = await alice.compose({ recipients: 'bob@dest.test, erin@plain.test', subject: 'Referral' });
    expect(weak.statusCode).toBe(409);
    expect(weak.body).toContain('Nothing is known yet about how plain.test takes mail');
    expect(weak.body).not.toContain('dest.test takes');
    expect(weak.body).toContain('id="weak-link-ok"');
    expect(fixture.mails).toHaveLength(0);

    const passphrase = await alice.compose({ recipients: 'erin@plain.test', subject: 'Referral', verification: 'passphrase', passphrase: 'told on the phone' });
    expect(passphrase.headers.location).toBe('/console?sent=1');
    const anyway = await alice.compose({ recipients: 'erin@plain.test', subject: 'Referral', weakLinkOk: 'on' });
    expect(anyway.headers.location).toBe('/console?sent=1');
    const linkOnly = linkIn(fixture.mails.at(-1)!.raw);
    const page = (await alice.request('GET', `/console/m/${linkOnly.id}`)).body;
    expect(page).toContain('Nothing is known yet about how plain.test takes mail');
    expect(page).toContain('choose passphrase verification');

    const form = (await alice.request('GET', '/console/compose')).body;
    expect(form).toMatch(/<input type="text" id="answer" name="answer"[^>]*aria-describedby="answer-hint">/);
    expect(form).toContain('without regard to upper and lower case, spaces and punctuation');
    expect(form).toContain('by another channel, by phone or in person');
  });

  it('mails the sender when a reply comes, shows it, and "Reply" continues the thread the recipient then sees', async () => {
    const fixture = await setup();
    const alice = await signedIn('alice@example.test');
    await alice.compose({ recipients: 'bob@dest.test', subject: 'Consent form' });
    const first = linkIn(fixture.mails.at(-1)!.raw);
    const bob = await recipient(first);
    expect((await bob.reply('Signed form attached, ZQX-REPLY-TEXT.')).headers.location).toBe(`/m/${first.id}/read?replied=1`);

    // The sender is told, without anything of the reply.
    const notice = fixture.mails.at(-1)!;
    expect(notice.envelope.to).toEqual(['alice@example.test']);
    const raw = notice.raw.toString('utf8');
    expect(raw).toContain('Subject: You have a secure reply');
    expect(raw).toContain(`/console/m/${first.id}`);
    for (const secret of ['ZQX-REPLY-TEXT', 'Consent form', 'signed-form.pdf']) expect(raw).not.toContain(secret);

    // The recipient's page shows their own reply in the conversation.
    expect((await bob.read()).body).toMatch(/id="thread"[\s\S]*Your reply[\s\S]*ZQX-REPLY-TEXT[\s\S]*signed-form\.pdf/);

    const [reply] = await fixture.pickup.replies.list(first.id);
    const message = (await alice.request('GET', `/console/m/${first.id}`)).body;
    expect(message).toContain(`href="/console/compose?reply=${reply!.replyId}"`);
    const compose = (await alice.request('GET', `/console/compose?reply=${reply!.replyId}`)).body;
    expect(compose).toContain('To bob@dest.test, in the thread of your message “Consent form”');
    expect(compose).toContain('value="Re: Consent form"');
    // The form's recipient field is ignored in a thread: the reply goes to the one who wrote.
    const sent = await alice.compose({ reply: reply!.replyId, recipients: 'eve@dest.test', subject: 'Re: Consent form', text: 'Thanks, ZQX-SECOND.' });
    expect(sent.headers.location).toBe('/console?sent=1');
    const second = linkIn(fixture.mails.at(-1)!.raw);
    expect(fixture.mails.at(-1)!.envelope.to).toEqual(['bob@dest.test']);
    expect((await fixture.pickup.sent.message('alice@example.test', second.id))?.threadId).toBe(first.id);

    const thread = (await (await recipient(second)).read()).body;
    expect(thread).toMatch(/id="thread"[\s\S]*Consent form[\s\S]*open it from its own notice e-mail[\s\S]*Your reply[\s\S]*ZQX-REPLY-TEXT[\s\S]*this message/);
    const console2 = (await alice.request('GET', `/console/m/${second.id}`)).body;
    expect(console2).toMatch(/id="thread"[\s\S]*Consent form[\s\S]*Re: Consent form[\s\S]*this message/);

    // Nobody else can answer into the thread.
    const mallory = await signedIn('mallory@example.test');
    expect((await mallory.request('GET', `/console/compose?reply=${reply!.replyId}`)).statusCode).toBe(404);
    const before = fixture.mails.length;
    expect((await mallory.compose({ reply: reply!.replyId, subject: 'Re: Consent form' })).statusCode).toBe(404);
    expect(fixture.mails.length).toBe(before);
    expect((await fixture.pickup.sent.list('mallory@example.test')).compositions).toEqual([]);
  });

  it('says which recipient is locked and unlocks only theirs; names notice states; labels the IP column', async () => {
    const fixture = await setup();
    const alice = await signedIn('alice@example.test');
    await alice.compose({ recipients: 'bob@dest.test, carol@dest.test', subject: 'Question', verification: 'question', question: 'Our clinic street?', answer: 'Main St.' });
    const [bobLink, carolLink] = fixture.mails.slice(-2).map((m) => linkIn(m.raw));
    for (let i = 0; i < 2; i++) await fixture.pickup.open(bobLink!.id, { password: bobLink!.password, secret: 'wrong' }).catch(() => undefined);
    expect((await fixture.pickup.describe(bobLink!.id))?.state).toBe('locked');
    const page = (await alice.request('GET', `/console/m/${bobLink!.id}`)).body;
    expect(page).toContain('Locked for bob@dest.test after 2 failed attempts at the answer');
    expect(page).toContain('>Unlock for bob@dest.test</button>');
    expect((await alice.request('GET', `/console/m/${carolLink!.id}`)).body).not.toContain('id="unlock"');
    const unlocked = await alice.request('POST', `/console/m/${bobLink!.id}/unlock`, { _csrf: alice.csrf });
    expect((await alice.request('GET', unlocked.headers.location as string)).body).toContain('The message to bob@dest.test is unlocked: they have 2 attempts again.');
    // Unlocked, the recipient gets in with the answer in another case, spacing and punctuation (normalizeAnswer).
    expect((await fixture.pickup.open(bobLink!.id, { password: bobLink!.password, secret: '  MAIN   st ' })).subject).toBe('Question');

    await fixture.pickup.recordEvent(carolLink!.id, 'notice-failed' as PickupEventKind, null, '550 5.7.10 REQUIRETLS needed');
    const failed = (await alice.request('GET', `/console/m/${carolLink!.id}`)).body;
    expect(failed).toContain('notice failed: 550 5.7.10 REQUIRETLS needed');
    expect(failed).toContain('id="state">notice failed</span>');
    expect(failed).toContain('<th scope="col">IP address</th>');
    expect(failed).not.toContain('>Address<');
    expect((await alice.request('GET', '/console')).body).toContain('>Sign out</button>');
  });
  it('a sender with a second factor signs in with password and code; a replayed code or a missing one is refused', async () => {
    const f = await setup();
    await f.users.add('totp@sender.test', PASSWORD);
    const { secret } = await f.users.secondFactors!.enrol('totp@sender.test');
    const code = () => new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();
    await f.users.secondFactors!.confirm('totp@sender.test', code());
    const client = injectClient(app!);
    const page = await client.request('GET', '/console/login');
    expect(page.body).toContain('autocomplete="one-time-code"');
    const csrf = client.jar.get('__Host-sg-csrf')!;
    const without = await client.request('POST', '/console/login', { _csrf: csrf, username: 'totp@sender.test', password: PASSWORD });
    expect(without.statusCode).toBe(401);
    expect(without.body).toContain('6-digit code from your authenticator app');
    // The code used to confirm the enrolment cannot sign in again within its time step.
    const replayed = await client.request('POST', '/console/login', { _csrf: csrf, username: 'totp@sender.test', password: PASSWORD, code: code() });
    expect(replayed.statusCode).toBe(401);
    const codes = await f.users.secondFactors!.newRecoveryCodes('totp@sender.test');
    const signedInWithRecovery = await client.request('POST', '/console/login', { _csrf: csrf, username: 'totp@sender.test', password: PASSWORD, code: codes[0] });
    expect(signedInWithRecovery.headers.location).toBe('/console');
    expect((await client.request('GET', '/console')).statusCode).toBe(200);
    // An admin lock ends the session at once.
    await f.users.setLocked('totp@sender.test', true);
    expect((await client.request('GET', '/console')).headers.location).toBe('/console/login');
  });
  it('lists the sender\'s sessions with address and browser, and signs out everywhere else or everywhere', async () => {
    await setup();
    const first = await signedIn('sessions@sender.test');
    const second = await signedIn('sessions@sender.test');
    const list = await first.request('GET', '/console/sessions');
    expect(list.statusCode).toBe(200);
    expect(list.body.match(/class="card session/g)).toHaveLength(2);
    expect(list.body).toContain('This browser');
    expect(list.body).toContain('From 127.0.0.1 with lightMyRequest');
    const ended = await first.request('POST', '/console/sessions/end-others', { _csrf: first.csrf });
    expect(ended.headers.location).toBe('/console/sessions?ended=1');
    expect((await second.request('GET', '/console')).headers.location).toBe('/console/login');
    expect((await first.request('GET', '/console')).statusCode).toBe(200);
    expect((await first.request('POST', '/console/sessions/end-all', { _csrf: first.csrf })).headers.location).toBe('/console/login?out=1');
    expect((await first.request('GET', '/console')).headers.location).toBe('/console/login');
    // Without the form's token nothing ends.
    const third = await signedIn('sessions@sender.test');
    expect((await third.request('POST', '/console/sessions/end-all', {})).statusCode).toBe(403);
    expect((await third.request('GET', '/console')).statusCode).toBe(200);
  });

  it("signing out everywhere also ends the same user's admin-console sessions (attacker's pass, issue 13)", async () => {
    // Before: only the sender sessions ended; an admin session on a lost laptop stayed open.
    await setup();
    await fixture!.users.add('boss@sender.test', PASSWORD);
    await fixture!.users.roles.grant('boss@sender.test', 'admin');
    const sender = await signedIn('boss@sender.test');
    const admin = await signedInClient(app!, 'admin', 'boss@sender.test', PASSWORD);
    expect((await admin.request('GET', '/admin')).statusCode).toBe(200);
    expect((await sender.request('POST', '/console/sessions/end-all', { _csrf: sender.csrf })).headers.location).toBe('/console/login?out=1');
    expect((await admin.request('GET', '/admin')).headers.location).toBe('/admin/login');
  });

  it('a role with a shorter idle limit gets it on its sessions and in the page timer', async () => {
    fixture = await createPortalFixture({ config: { web: { idleTimeoutByRole: { admin: 60_000 } } } });
    app = buildWebApp(fixture.deps).app;
    await app.ready();
    await fixture.users.add('boss@sender.test', PASSWORD);
    await fixture.users.roles.grant('boss@sender.test', 'admin');
    const boss = await signedIn('boss@sender.test');
    const row = await fixture.store.db.selectFrom('web_sessions').select('idle_ms').where('subject', '=', 'boss@sender.test').executeTakeFirstOrThrow();
    expect(Number(row.idle_ms)).toBe(60_000);
    expect((await boss.request('GET', '/console')).body).toContain('60000');
  });
});
