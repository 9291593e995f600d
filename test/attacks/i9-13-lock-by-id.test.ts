import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebService, type WebService } from '../../src/web/index.ts';
import { createPortalFixture, type PortalFixture } from '../helpers/browser.ts';
import { HttpsClient } from '../helpers/https-client.ts';

/*
 * Issue 9 item 13: anyone with the id could lock a message for good (10 wrong passwords from
 * 10 IPs). Now only attempts that reach the message's own check (the right message password,
 * then a wrong passphrase, answer or code) count toward its lock; a wrong message password
 * costs the client's network budget only. The recipient sees the attempts left, and the
 * sender can unlock from the console (audited).
 */
const PASSWORD = 'correct horse battery staple';
const WRONG = 'AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA';

describe('i9-13 a message cannot be locked with its id alone', () => {
  let fixture: PortalFixture;
  let web: WebService;
  let client: HttpsClient;

  beforeAll(async () => {
    fixture = await createPortalFixture();
    await fixture.users.add('alice@example.test', PASSWORD);
    web = createWebService(fixture.deps);
    await web.start();
    client = new HttpsClient(web.listening().port);
  });

  afterAll(async () => {
    await web?.stop();
    await fixture?.cleanup();
  });

  let csrf: string | undefined;
  async function tryOpen(id: string, form: Record<string, string>, localAddress?: string) {
    csrf ??= HttpsClient.csrfOf((await client.request('GET', `/m/${id}`)).body);
    return client.request('POST', `/m/${id}`, { localAddress, form: { _csrf: csrf, ...form } });
  }

  it('30 wrong message passwords from 10 addresses do not lock; the recipient still opens', async () => {
    const { id, messagePassword } = await fixture.pickup.create({
      sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 'figures', verification: 'passphrase', passphraseOrAnswer: 'blue harbour', parts: [],
    });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => tryOpen(id, { password: WRONG, secret: 'guess' }, `127.0.0.${2 + (i % 10)}`)));
    expect(answers.every((a) => a.status === 401)).toBe(true);
    expect((await fixture.pickup.describe(id))!.state).toBe('active');
    const page = await client.request('GET', `/m/${id}`);
    expect(page.body).toContain('10 attempts left before the message locks.');
    expect((await tryOpen(id, { password: messagePassword, secret: 'blue harbour' })).status).toBe(303);
  });

  it('wrong passphrases behind the right password count down, lock, and the sender unlocks (audited)', async () => {
    const { id, messagePassword } = await fixture.pickup.create({
      sender: 'alice@example.test', recipient: 'carol@dest.test', subject: 'plans', verification: 'passphrase', passphraseOrAnswer: 'red lantern', parts: [],
    });
    const first = await tryOpen(id, { password: messagePassword, secret: 'guess' });
    expect(first.status).toBe(401);
    expect(first.body).toContain('9 attempts left before the message locks.');
    for (let i = 0; i < 9; i++) await tryOpen(id, { password: messagePassword, secret: `guess ${i}` });
    expect((await tryOpen(id, { password: messagePassword, secret: 'red lantern' })).status).toBe(423);

    const consoleClient = new HttpsClient(web.listening().port);
    const login = await consoleClient.request('GET', '/console/login');
    const csrf = HttpsClient.csrfOf(login.body);
    expect((await consoleClient.request('POST', '/console/login', { form: { _csrf: csrf, username: 'alice@example.test', password: PASSWORD } })).status).toBe(303);
    const detail = await consoleClient.request('GET', `/console/m/${id}`);
    expect(detail.body).toContain('id="unlock"');
    const unlocked = await consoleClient.request('POST', `/console/m/${id}/unlock`, { localAddress: '127.0.0.77', form: { _csrf: csrf } });
    expect(unlocked.status).toBe(303);
    expect((await fixture.pickup.events(id)).at(-1)).toMatchObject({ kind: 'unlocked', ip: '127.0.0.77', detail: 'by alice@example.test' });
    expect((await consoleClient.request('GET', `/console/m/${id}`)).body).toContain('unlocked');
    expect((await tryOpen(id, { password: messagePassword, secret: 'red lantern' })).status).toBe(303);
  });
});
