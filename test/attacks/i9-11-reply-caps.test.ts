import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsClient, startPortal } from '../helpers/portal-socket.ts';
import { multipart, type Upload } from '../helpers/web-inject.ts';

/*
 * Issue 9 item 11: a reply had no total cap (60 MB stored for one reply, each file under the
 * per-file limit) and a link took any number of replies. Over HTTPS, with small limits: a reply
 * whose files together pass limits.maxMessageBytes gets 413 with a sentence and nothing is
 * stored; the reply past web.maxRepliesPerDay gets 429 with a sentence.
 */

const LIMIT = 64 * 1024;
const PER_DAY = 3;

describe('reply uploads are capped in total and per day', () => {
  let portal: Awaited<ReturnType<typeof startPortal>>;
  let id: string;
  let client: ReturnType<typeof httpsClient>;
  beforeAll(async () => {
    portal = await startPortal({ config: { limits: { maxMessageBytes: LIMIT }, web: { maxRepliesPerDay: PER_DAY } } });
    const created = await portal.fixture.pickup.create({ sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 'figures', verification: 'link', parts: [{ kind: 'text', contentType: 'text/plain', content: 'hi' }] });
    id = created.id;
    client = httpsClient(portal.port);
    await client.request('GET', `/m/${id}`);
    expect((await client.request('POST', `/m/${id}`, { _csrf: client.cookie('__Host-sg-csrf')!, password: created.messagePassword })).headers.location).toBe(`/m/${id}/read`);
  }, 20_000);
  afterAll(async () => {
    await portal?.stop();
  });

  const send = (text: string, files: Upload[]) => {
    const form = multipart([['_csrf', client.cookie('__Host-sg-csrf')!], ['text', text]], files);
    return client.request('POST', `/m/${id}/reply`, { type: form.type, bytes: form.body });
  };
  const file = (name: string, size: number): Upload => ({ filename: name, type: 'application/octet-stream', content: Buffer.alloc(size, 0x41) });
  const storedMessages = async () => (await portal.fixture.store.db.selectFrom('pickup_messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;

  it('files that pass the total together: 413 with a sentence, nothing stored', async () => {
    const before = Number(await storedMessages());
    const refused = await send('two halves', [file('a.bin', 40 * 1024), file('b.bin', 40 * 1024)]);
    expect(refused.status).toBe(413);
    expect(refused.body).toContain('The reply is too large: its text and files together may be at most 64.0 kB.');
    expect(await portal.fixture.pickup.replies.list(id)).toEqual([]);
    expect(Number(await storedMessages())).toBe(before);
  });

  it('one file past the total: 413 as well', async () => {
    const refused = await send('', [file('big.bin', LIMIT + 1)]);
    expect(refused.status).toBe(413);
    expect(await portal.fixture.pickup.replies.list(id)).toEqual([]);
  });

  it('the reply past the daily number: 429 with a sentence', async () => {
    for (let i = 0; i < PER_DAY; i++) {
      const ok = await send(`reply ${i}`, [file(`r${i}.bin`, 1024)]);
      expect(ok.headers.location).toBe(`/m/${id}/read?replied=1`);
    }
    const refused = await send('one more', [file('more.bin', 1024)]);
    expect(refused.status).toBe(429);
    expect(refused.body).toContain(`You have sent ${PER_DAY} replies to this message today, the most it takes in a day.`);
    expect(await portal.fixture.pickup.replies.list(id)).toHaveLength(PER_DAY);
  });
});
