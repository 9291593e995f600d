import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBidiControls } from '../../src/mail/index.ts';
import { httpsClient, startPortal } from '../helpers/portal-socket.ts';
import { multipart } from '../helpers/web-inject.ts';

/*
 * Issue 9 item 16: a right-to-left override (U+202E) in a subject or a file name reached the
 * page raw, and web uploads kept it in the stored name (`inv\u202Efdp.exe` displayed as
 * "invexe.pdf"). Over HTTPS: a compose upload and a reply upload are saved without bidi
 * controls; a pickup that arrived by mail with them in its subject and file name is shown and
 * downloaded without them.
 */

const PASSWORD = 'correct horse battery staple';
const RLO = '\u202E';
const EVIL_NAME = `inv${RLO}fdp.exe`;
const EVIL_SUBJECT = `Invoice \u2067due\u2069 ${RLO}gpj.exe\u200F\u061C`;
const ALL_CONTROLS = '\u061C\u200E\u200F\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069';
// U+202E as it would appear percent-encoded in a Content-Disposition filename*.
const ENCODED = /%E2%80%A[A-E]|%E2%81%A[6-9]|%E2%80%8[EF]|%D8%9C/i;

describe('bidi controls never reach a shown or saved name', () => {
  let portal: Awaited<ReturnType<typeof startPortal>>;
  beforeAll(async () => {
    portal = await startPortal();
    await portal.fixture.users.add('alice@example.test', PASSWORD);
  }, 20_000);
  afterAll(async () => {
    await portal?.stop();
  });

  async function openAsRecipient(id: string, password: string) {
    const client = httpsClient(portal.port);
    await client.request('GET', `/m/${id}`);
    const opened = await client.request('POST', `/m/${id}`, { _csrf: client.cookie('__Host-sg-csrf')!, password });
    expect(opened.headers.location).toBe(`/m/${id}/read`);
    return client;
  }

  it('a mailed pickup with bidi controls in subject and file name is shown and downloaded without them', async () => {
    const { id, messagePassword } = await portal.fixture.pickup.create({
      sender: 'alice@example.test', recipient: 'bob@dest.test', subject: EVIL_SUBJECT, verification: 'link',
      parts: [{ kind: 'text', contentType: 'text/plain', content: 'see attachment' }, { kind: 'attachment', contentType: 'application/octet-stream', filename: `${ALL_CONTROLS}${EVIL_NAME}`, content: Buffer.from('MZ') }],
    });
    const client = await openAsRecipient(id, messagePassword);
    const read = await client.request('GET', `/m/${id}/read`);
    expect(read.status).toBe(200);
    expect(hasBidiControls(read.body)).toBe(false);
    expect(read.body).toContain('invfdp.exe');
    expect(read.body).toContain('Invoice due gpj.exe');
    const part = read.body.match(/href="(\/m\/[^"]+\/part\/\d+)"/)![1];
    const download = await client.request('GET', part);
    expect(download.status).toBe(200);
    const disposition = String(download.headers['content-disposition']);
    expect(disposition).toBe(`attachment; filename="invfdp.exe"; filename*=UTF-8''invfdp.exe`);
    expect(disposition).not.toMatch(ENCODED);
  });

  it('compose: the subject and the uploaded file name are saved without them; so is a reply upload', async () => {
    const sender = httpsClient(portal.port);
    await sender.request('GET', '/console/login');
    const csrf = sender.cookie('__Host-sg-csrf')!;
    expect((await sender.request('POST', '/console/login', { _csrf: csrf, username: 'alice@example.test', password: PASSWORD })).headers.location).toBe('/console');
    const form = multipart([['_csrf', csrf], ['recipients', 'carol@dest.test'], ['subject', EVIL_SUBJECT], ['text', 'hello'], ['verification', 'link'], ['days', '7'], ['weakLinkOk', 'on']],
      [{ filename: EVIL_NAME, type: 'application/pdf', content: Buffer.from('%PDF') }]);
    const sent = await sender.request('POST', '/console/compose', { type: form.type, bytes: form.body });
    expect(sent.headers.location).toBe('/console?sent=1');

    const notice = portal.fixture.mails.find((m) => m.envelope.to.includes('carol@dest.test'))!.raw.toString('utf8');
    const id = notice.match(/\/m\/([A-Za-z0-9_-]{22})#/)![1];
    const password = notice.match(/^Message password:\r?\n\s+(\S+)\s*$/m)![1];
    const stored = await portal.fixture.pickup.open(id, { password: password });
    expect(stored.subject).toBe('Invoice due gpj.exe');
    expect(stored.parts.filter((p) => p.kind === 'attachment').map((p) => p.filename)).toEqual(['invfdp.exe']);

    const recipient = await openAsRecipient(id, password);
    const reply = multipart([['_csrf', recipient.cookie('__Host-sg-csrf')!], ['text', 'signed']], [{ filename: `signed${RLO}fdp.exe`, type: 'application/pdf', content: Buffer.from('%PDF') }]);
    expect((await recipient.request('POST', `/m/${id}/reply`, { type: reply.type, bytes: reply.body })).headers.location).toBe(`/m/${id}/read?replied=1`);
    const [summary] = await portal.fixture.pickup.replies.list(id);
    const opened = await portal.fixture.pickup.replies.open(summary.replyId);
    expect(opened.parts.filter((p) => p.kind === 'attachment').map((p) => p.filename)).toEqual(['signedfdp.exe']);
  });
});
