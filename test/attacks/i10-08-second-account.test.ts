import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsClient, startPortal } from '../helpers/portal-socket.ts';
import { multipart } from '../helpers/web-inject.ts';

/*
 * Issue 10 items 7 and 8 under a second account: the console's search opens the sender views
 * of a sender's own messages, and "Reply" continues a thread with a new pickup. Another signed-in
 * sender, over real HTTPS, must not find my subjects by search, see my message, read the
 * recipient's reply, nor answer into my thread (by the compose page or by posting the reply id
 * with another recipient); nothing is sealed or mailed for them.
 */

const PASSWORD = 'correct horse battery staple';
const SUBJECT = 'Therapy plan Nowak 3K8M';

describe('i10-08 another sender cannot search, read or reply into my threads', () => {
  let portal: Awaited<ReturnType<typeof startPortal>>;
  beforeAll(async () => {
    portal = await startPortal();
    for (const user of ['alice@example.test', 'mallory@example.test']) await portal.fixture.users.add(user, PASSWORD);
  });
  afterAll(async () => portal?.stop());

  async function signedIn(user: string) {
    const client = httpsClient(portal.port);
    await client.request('GET', '/console/login');
    const csrf = client.cookie('__Host-sg-csrf')!;
    expect((await client.request('POST', '/console/login', { _csrf: csrf, username: user, password: PASSWORD })).headers.location).toBe('/console');
    const compose = (fields: [string, string][]) => {
      const form = multipart([['_csrf', csrf], ...fields, ['text', 'hello'], ['verification', 'link'], ['weakLinkOk', 'on'], ['days', '7']], []);
      return client.request('POST', '/console/compose', { type: form.type, bytes: form.body });
    };
    return { client, csrf, compose };
  }

  it('refuses every way in with 404 and seals nothing', async () => {
    const alice = await signedIn('alice@example.test');
    expect((await alice.compose([['recipients', 'bob@dest.test'], ['subject', SUBJECT]])).headers.location).toBe('/console?sent=1');
    const notice = portal.fixture.mails.at(-1)!.raw.toString('utf8').replace(/=\r\n/g, '');
    const [, id, password] = /\/m\/([A-Za-z0-9_-]{22})#([0-9A-Z-]{34})/.exec(notice)!;

    // Bob answers securely.
    const bob = httpsClient(portal.port);
    await bob.request('GET', `/m/${id}`);
    const bobCsrf = bob.cookie('__Host-sg-csrf')!;
    expect((await bob.request('POST', `/m/${id}`, { _csrf: bobCsrf, password: password! })).status).toBe(303);
    const form = multipart([['_csrf', bobCsrf], ['text', 'Agreed, 3K8M-REPLY']], []);
    expect((await bob.request('POST', `/m/${id}/reply`, { type: form.type, bytes: form.body })).status).toBe(303);
    const [reply] = await portal.fixture.pickup.replies.list(id!);
    expect((await alice.client.request('GET', `/console?q=3k8m`)).body).toContain(SUBJECT);

    const mallory = await signedIn('mallory@example.test');
    const search = await mallory.client.request('GET', `/console?q=${encodeURIComponent('3K8M')}`);
    expect(search.body).not.toContain(SUBJECT);
    expect(search.body).toContain('No secure message matches');
    for (const path of [`/console/m/${id}`, `/console/m/${id}/retract`, `/console/reply/${reply!.replyId}`, `/console/reply/${reply!.replyId}/part/0`, `/console/compose?reply=${reply!.replyId}`]) {
      const answer = await mallory.client.request('GET', path);
      expect(answer.status, path).toBe(404);
      expect(answer.body, path).not.toContain('3K8M');
    }
    const mails = portal.fixture.mails.length;
    const posted = await mallory.compose([['reply', reply!.replyId], ['recipients', 'bob@dest.test'], ['subject', 'Re: your plan']]);
    expect(posted.status).toBe(404);
    expect((await mallory.client.request('POST', `/console/m/${id}/retract`, { _csrf: mallory.csrf, confirm: 'yes' })).status).toBe(404);
    expect(portal.fixture.mails.length).toBe(mails);
    expect((await portal.fixture.pickup.sent.list('mallory@example.test')).compositions).toEqual([]);
    expect((await portal.fixture.pickup.describe(id!))?.state).toBe('active');
  });
});
