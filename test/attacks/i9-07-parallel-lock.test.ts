import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebService, type WebService } from '../../src/web/index.ts';
import { createPortalFixture, type PortalFixture } from '../helpers/browser.ts';
import { HttpsClient } from '../helpers/https-client.ts';

/*
 * Issue 9 item 7: the 10-failure lock did not hold under parallel guesses (57 concurrent
 * passphrase guesses with the right message password from 3 IPs were all evaluated; the 15th
 * was right and opened the message). Now each check of the passphrase or code is reserved on
 * the message by a conditional UPDATE before Argon2 runs: at most 10 are evaluated, the rest
 * get 423, and the message is locked.
 */
describe('i9-07 the 10-failure lock holds under parallel guesses', () => {
  let fixture: PortalFixture;
  let web: WebService;
  let client: HttpsClient;

  beforeAll(async () => {
    fixture = await createPortalFixture();
    web = createWebService(fixture.deps);
    await web.start();
    client = new HttpsClient(web.listening().port);
  });

  afterAll(async () => {
    await web?.stop();
    await fixture?.cleanup();
  });

  async function burst(id: string, fields: (i: number) => Record<string, string>, count: number, firstAddress: number) {
    const page = await client.request('GET', `/m/${id}`);
    const csrf = HttpsClient.csrfOf(page.body);
    return Promise.all(Array.from({ length: count }, (_, i) =>
      client.request('POST', `/m/${id}`, { localAddress: `127.0.0.${firstAddress + (i % 5)}`, form: { _csrf: csrf, ...fields(i) } })));
  }

  it('57 parallel passphrase guesses from 5 addresses: at most 10 evaluated, the right 15th does not open', async () => {
    const { id, messagePassword } = await fixture.pickup.create({
      sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 'figures', verification: 'passphrase', passphraseOrAnswer: 'blue harbour', parts: [],
    });
    const answers = await burst(id, (i) => ({ password: messagePassword, secret: i === 14 ? 'blue harbour' : `guess ${i}` }), 57, 2);
    const evaluated = answers.filter((a) => a.status === 401 || a.status === 303);
    expect(evaluated.length).toBeLessThanOrEqual(10);
    expect(answers.filter((a) => a.status === 423).length).toBeGreaterThanOrEqual(47);
    const events = await fixture.pickup.events(id);
    expect(events.filter((e) => e.kind === 'failed-attempt').length).toBeLessThanOrEqual(10);
    expect(events.filter((e) => e.kind === 'opened').length).toBe(answers.filter((a) => a.status === 303).length);
    const row = await fixture.store.db.selectFrom('pickup_messages').select(['failed_attempts']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.failed_attempts).toBeLessThanOrEqual(10);
  });

  it('50 parallel one-time-code guesses: at most 10 evaluated', async () => {
    const { id, messagePassword } = await fixture.pickup.create({ sender: 'alice@example.test', recipient: 'carol@dest.test', subject: 'code', verification: 'code', parts: [] });
    const code = await fixture.pickup.gate.issueCode(id);
    const wrong = (i: number) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0');
    const answers = await burst(id, (i) => ({ password: messagePassword, code: wrong(i) }), 50, 10);
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(10);
    expect(answers.filter((a) => a.status === 423).length).toBeGreaterThanOrEqual(40);
    expect((await fixture.pickup.events(id)).filter((e) => e.kind === 'failed-attempt').length).toBeLessThanOrEqual(10);
    expect((await fixture.pickup.describe(id))!.state).toBe('locked');
  });
});
