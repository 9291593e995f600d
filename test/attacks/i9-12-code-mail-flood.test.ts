import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebService, type WebService } from '../../src/web/index.ts';
import { createPortalFixture, type PortalFixture } from '../helpers/browser.ts';
import { HttpsClient } from '../helpers/https-client.ts';

/*
 * Issue 9 item 12: 24 code mails in seconds to one recipient from two IPs, each replacing the
 * last code, with only the message id. Now code mails are limited per message (3 an hour) and
 * per recipient (10 an hour) in the shared budget table, and a new code leaves an unexpired one valid.
 */
describe('i9-12 one-time-code mails are limited and do not cancel each other', () => {
  let fixture: PortalFixture;
  let web: WebService;
  let client: HttpsClient;

  beforeAll(async () => {
    fixture = await createPortalFixture({ gate: { ipAttempts: 200 } });
    web = createWebService(fixture.deps);
    await web.start();
    client = new HttpsClient(web.listening().port);
  });

  afterAll(async () => {
    await web?.stop();
    await fixture?.cleanup();
  });

  const create = (recipient: string) => fixture.pickup.create({ sender: 'alice@example.test', recipient, subject: 'code', verification: 'code', parts: [] });
  const mailsTo = (to: string) => fixture.mails.filter((m) => m.envelope.to.includes(to)).length;

  async function askCodes(id: string, count: number) {
    const page = await client.request('GET', `/m/${id}`);
    const csrf = HttpsClient.csrfOf(page.body);
    return Promise.all(Array.from({ length: count }, (_, i) => client.request('POST', `/m/${id}/code`, { localAddress: `127.0.0.${2 + (i % 2)}`, form: { _csrf: csrf } })));
  }

  it('24 parallel code requests for one message from two addresses send at most 3 mails', async () => {
    const { id } = await create('bob@dest.test');
    const answers = await askCodes(id, 24);
    expect(mailsTo('bob@dest.test')).toBe(3);
    expect(answers.filter((a) => a.status === 303)).toHaveLength(3);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused).toHaveLength(21);
    expect(refused[0].body).toContain('Enough codes were e-mailed for now. Use the latest code you received');
  });

  it('the recipient gets at most 10 an hour over all their messages', async () => {
    const messages = await Promise.all(Array.from({ length: 5 }, () => create('dave@dest.test')));
    for (const { id } of messages) await askCodes(id, 3);
    expect(mailsTo('dave@dest.test')).toBe(10);
  });

  it('a second code leaves the first valid', async () => {
    const { id, messagePassword } = await create('erin@dest.test');
    await askCodes(id, 1);
    const first = fixture.lastCode('erin@dest.test');
    await askCodes(id, 1);
    expect(mailsTo('erin@dest.test')).toBe(2);
    const page = await client.request('GET', `/m/${id}`);
    const opened = await client.request('POST', `/m/${id}`, { form: { _csrf: HttpsClient.csrfOf(page.body), password: messagePassword, code: first } });
    expect(opened.status).toBe(303);
    expect(opened.headers.location).toBe(`/m/${id}/read`);
  });
});
