import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createPortalFixture, type PortalFixture } from '../../test/helpers/browser.ts';
import { injectClient, multipart, type Upload } from '../../test/helpers/web-inject.ts';
import { LinkSecurityMemory } from '../linksec/index.ts';
import { buildWebApp } from './app.ts';
import { parseRecipients } from './compose.ts';
import { filesUnder } from '../../test/helpers/ports.ts';

/** The notice's text part, quoted-printable undone, and the link's id and message password. */
function linkIn(raw: Buffer): { id: string; password: string } {
  const text = raw.toString('utf8').replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  const match = text.match(/https:\/\/\S+\/m\/([A-Za-z0-9_-]{22})#(\S+)/);
  if (!match) throw new Error('no pickup link in the notice');
  return { id: match[1], password: decodeURIComponent(match[2]) };
}

/** The link-security memory holds that `domain`'s MX took mail over verified TLS just now. */
async function provenVerified(fixture: PortalFixture, domain: string): Promise<void> {
  await new LinkSecurityMemory(fixture.store).record({
    domain, mxHost: `mx.${domain}`, ip: '127.0.0.1', starttlsOffered: true, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSubject: `mx.${domain}`,
    certValid: true, certError: null, requireTlsAdvertised: false, error: null, at: Date.now(),
  });
}

const SUBJECT = 'Quarterly figures ZXQW-SUBJECT';
const TEXT = 'Here are the figures ZXQW-BODY, please keep them to yourself.';

describe('web compose (fastify.inject over SQLite)', () => {
  let fixture: PortalFixture | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await fixture?.cleanup();
    app = undefined;
    fixture = undefined;
  });

  async function setup(login = true, config: Parameters<typeof createPortalFixture>[0] = {}, sendMail?: PortalFixture['deps']['sendMail']) {
    fixture = await createPortalFixture(config);
    // dest.test took mail over verified TLS, so its notices raise no weak-link question (tested on its own below).
    await provenVerified(fixture, 'dest.test');
    app = buildWebApp({ ...fixture.deps, sendMail: sendMail ?? fixture.deps.sendMail }).app;
    await app.ready();
    const { jar, request } = injectClient(app);
    await request('GET', '/console/login');
    const csrf = jar.get('__Host-sg-csrf')!;
    if (login) {
      await fixture.users.add('alice@example.test', 'correct horse battery');
      const done = await request('POST', '/console/login', { _csrf: csrf, username: 'alice@example.test', password: 'correct horse battery' });
      expect(done.headers.location).toBe('/console');
    }
    const compose = (fields: [string, string][], files: Upload[] = []) => {
      const upload = multipart(fields, files);
      return request('POST', '/console/compose', undefined, { headers: { 'content-type': upload.type }, payload: upload.body });
    };
    return { fixture, jar, csrf, request, compose };
  }

  const form = (csrf: string, overrides: Record<string, string> = {}): [string, string][] => Object.entries({
    _csrf: csrf, recipients: 'bob@dest.test, Carol@Dest.TEST', subject: SUBJECT, text: TEXT, verification: 'link',
    passphrase: '', question: '', answer: '', days: '7', readNotice: 'on', ...overrides,
  });

  it('seals one pickup per recipient with the attachment, and mails each its own link', async () => {
    const { fixture, csrf, request, compose } = await setup();
    const list = await request('GET', '/console');
    expect(list.body).toContain('href="/console/compose"');
    const page = await request('GET', '/console/compose');
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/<form method="post" action="\/console\/compose" enctype="multipart\/form-data"[^>]*><input type="hidden" name="_csrf"/);
    expect(page.body).toContain('value="30"');

    const attachment = Buffer.concat([Buffer.from('ZXQW-ATTACHMENT '), randomBytes(400 * 1024), Buffer.from(' ZXQW-ATTACHMENT-END')]);
    const sent = await compose(form(csrf), [{ filename: 'figures.bin', type: 'application/octet-stream', content: attachment }, { filename: '', type: 'application/octet-stream', content: Buffer.alloc(0) }]);
    expect(sent.statusCode).toBe(303);
    expect(sent.headers.location).toBe('/console?sent=2');
    expect((await request('GET', '/console?sent=2')).body).toContain('Sent 2 secure messages');

    const messages = await fixture.pickup.listBySender('alice@example.test');
    expect(messages.map((m) => m.recipient).sort()).toEqual(['Carol@dest.test', 'bob@dest.test']);
    expect(fixture.mails).toHaveLength(2);
    for (const mail of fixture.mails) {
      expect(mail.envelope.from).toBe('');
      const raw = mail.raw.toString('utf8');
      expect(raw).toContain('From: "Sealgate" <notices@portal.test>');
      expect(raw).toContain('Subject: You have a secure message');
      expect(raw).not.toContain('ZXQW');
      const { id, password } = linkIn(mail.raw);
      const opened = await fixture.pickup.open(id, { password });
      expect(opened.recipient).toBe(mail.envelope.to[0]);
      expect(opened.subject).toBe(SUBJECT);
      expect(opened.readNotice).toBe(true);
      expect(opened.expiresAt - opened.createdAt).toBe(7 * 86_400_000);
      expect(opened.parts.map((p) => [p.kind, p.filename, p.size])).toEqual([['text', null, Buffer.byteLength(TEXT)], ['attachment', 'figures.bin', attachment.length]]);
      const chunks: Buffer[] = [];
      for await (const chunk of opened.openPart(1)) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).equals(attachment)).toBe(true);
      expect((await fixture.pickup.events(id)).map((e) => e.kind)).toEqual(['created', 'notice-sent', 'opened']);
    }

    // Nothing of the message lies in the data dir in the clear, and the spool is gone.
    const spool = path.join(fixture.dir, 'compose-spool');
    expect(existsSync(spool) ? await readdir(spool) : []).toEqual([]);
    for (const file of filesUnder(fixture.dir)) {
      const content = await readFile(file);
      for (const marker of ['ZXQW-SUBJECT', 'ZXQW-BODY', 'ZXQW-ATTACHMENT', 'figures.bin']) expect(content.includes(marker), `${marker} in ${file}`).toBe(false);
    }
  });

  it('takes a passphrase or a question and answer, and the recipient needs it', async () => {
    const { fixture, csrf, compose } = await setup();
    const sent = await compose(form(csrf, { recipients: 'bob@dest.test', verification: 'question', question: 'Our first project?', answer: 'Falcon', readNotice: '' }).filter(([k]) => k !== 'readNotice'));
    expect(sent.headers.location).toBe('/console?sent=1');
    const { id, password } = linkIn(fixture.mails[0].raw);
    expect(await fixture.pickup.describe(id)).toMatchObject({ verification: 'question', question: 'Our first project?' });
    await expect(fixture.pickup.open(id, { password })).rejects.toThrow(/answer/);
    const opened = await fixture.pickup.open(id, { password, secret: 'Falcon' });
    expect(opened.readNotice).toBe(false);
    expect(opened.parts.map((p) => p.kind)).toEqual(['text']);
  });

  it('refuses a post without the CSRF token, and sends a logged-out sender to the login', async () => {
    const { csrf, compose, fixture } = await setup();
    const missing = await compose(form(csrf).filter(([k]) => k !== '_csrf'));
    expect(missing.statusCode).toBe(403);
    const wrong = await compose(form('A'.repeat(43)));
    expect(wrong.statusCode).toBe(403);
    expect(fixture.mails).toHaveLength(0);
    expect(await fixture.pickup.listBySender('alice@example.test')).toEqual([]);

    const anonymous = await setup(false);
    expect((await anonymous.request('GET', '/console/compose')).headers.location).toBe('/console/login');
    const post = await anonymous.compose(form(anonymous.csrf));
    expect(post.statusCode).toBe(303);
    expect(post.headers.location).toBe('/console/login');
    expect(anonymous.fixture.mails).toHaveLength(0);
  });

  it('shows the form again with a clear message and the typed values, but no secrets', async () => {
    const { csrf, compose, fixture } = await setup();
    const bad = await compose(form(csrf, { recipients: 'bob@dest.test, not-an-address' }), [{ filename: 'a.txt', type: 'text/plain', content: Buffer.from('x') }]);
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('“not-an-address” is not an e-mail address');
    expect(bad.body).toContain('Choose the attachments again.');
    expect(bad.body).toContain(`value="${SUBJECT}"`);
    expect(bad.body).toContain('value="bob@dest.test, not-an-address"');
    expect(bad.body).toContain(`>${TEXT}</textarea>`);

    const noPassphrase = await compose(form(csrf, { verification: 'passphrase', passphrase: '  ' }));
    expect(noPassphrase.statusCode).toBe(400);
    expect(noPassphrase.body).toContain('Enter the passphrase');
    expect(noPassphrase.body).toMatch(/value="passphrase" checked/);

    const keptSecret = await compose(form(csrf, { verification: 'question', question: 'Pet?', answer: 'Rex-SECRET', days: '0' }));
    expect(keptSecret.statusCode).toBe(400);
    expect(keptSecret.body).toContain('from 1 to 365');
    expect(keptSecret.body).toContain('value="Pet?"');
    expect(keptSecret.body).not.toContain('Rex-SECRET');

    const empty = await compose(form(csrf, { text: '  ' }));
    expect(empty.statusCode).toBe(400);
    expect(empty.body).toContain('Write a message or attach a file');
    expect(fixture.mails).toHaveLength(0);
    expect(await fixture.pickup.listBySender('alice@example.test')).toEqual([]);
  });

  it('refuses attachments over the size limit and leaves no spool behind', async () => {
    const { csrf, compose, fixture } = await setup(true, { config: { limits: { maxMessageBytes: 100_000 } } });
    const big = await compose(form(csrf), [
      { filename: 'one.bin', type: 'application/octet-stream', content: randomBytes(60_000) },
      { filename: 'two.bin', type: 'application/octet-stream', content: randomBytes(60_000) },
    ]);
    expect(big.statusCode).toBe(413);
    expect(big.body).toContain('The attachments are too large');
    const single = await compose(form(csrf), [{ filename: 'huge.bin', type: 'application/octet-stream', content: randomBytes(150_000) }]);
    expect(single.statusCode).toBe(413);
    expect(await fixture.pickup.listBySender('alice@example.test')).toEqual([]);
    expect(await readdir(path.join(fixture.dir, 'compose-spool'))).toEqual([]);
  });

  it('withdraws a pickup whose notice could not be sent and offers to try that recipient again', async () => {
    const { csrf, compose, fixture } = await setup(true, {}, async (envelope, raw) => {
      if (envelope.to[0] === 'carol@dest.test') throw new Error('queue full');
      fixture!.mails.push({ envelope, raw });
    });
    const partial = await compose(form(csrf, { recipients: 'bob@dest.test carol@dest.test' }));
    expect(partial.statusCode).toBe(503);
    expect(partial.body).toContain('Sent to 1 of 2 recipients');
    expect(partial.body).toContain('value="carol@dest.test"');
    const states = Object.fromEntries((await fixture.pickup.listBySender('alice@example.test')).map((m) => [m.recipient, m.state]));
    expect(states).toEqual({ 'bob@dest.test': 'active', 'carol@dest.test': 'retracted' });
  });
});

describe('parseRecipients', () => {
  it('splits on commas, semicolons and spaces, folds the domain and drops repeats', () => {
    expect(parseRecipients(' a@x.test,b@X.Test ;\n a@X.TEST ')).toEqual(['a@x.test', 'b@x.test']);
  });
  it('refuses what is not a plain routable address', () => {
    for (const bad of ['', 'bob', 'bob@', '<bob@x.test>', 'a%b@x.test', '"a b"@x.test', 'a@[127.0.0.1]']) expect(() => parseRecipients(bad)).toThrow();
  });
});
