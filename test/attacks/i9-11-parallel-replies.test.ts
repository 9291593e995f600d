import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsClient, startPortal } from '../helpers/portal-socket.ts';
import { multipart } from '../helpers/web-inject.ts';

/*
 * Issue 9 item 11, the race the first fix left: the daily reply cap was read (count today's
 * replies), then the upload was stored, then the reply row written. 24 replies sent at once on
 * one link all read "0 today" and were all stored, with web.maxRepliesPerDay = 3 (and each
 * could be limits.maxMessageBytes large). A reply takes its slot before its upload is read.
 */

const PER_DAY = 3;
const AT_ONCE = 24;

describe('replies sent at once stay within the daily cap', () => {
  let portal: Awaited<ReturnType<typeof startPortal>>;
  let id: string;
  let client: ReturnType<typeof httpsClient>;
  beforeAll(async () => {
    portal = await startPortal({ config: { web: { maxRepliesPerDay: PER_DAY, maxConnectionsPerIp: 200 } } });
    const created = await portal.fixture.pickup.create({ sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 'figures', verification: 'link', parts: [{ kind: 'text', contentType: 'text/plain', content: 'hi' }] });
    id = created.id;
    client = httpsClient(portal.port);
    await client.request('GET', `/m/${id}`);
    expect((await client.request('POST', `/m/${id}`, { _csrf: client.cookie('__Host-sg-csrf')!, password: created.messagePassword })).headers.location).toBe(`/m/${id}/read`);
  }, 20_000);
  afterAll(async () => {
    await portal?.stop();
  });

  it(`${AT_ONCE} parallel replies: at most ${PER_DAY} stored, the rest 429`, async () => {
    const send = (i: number) => {
      const form = multipart([['_csrf', client.cookie('__Host-sg-csrf')!], ['text', `reply ${i}`]], [{ filename: `r${i}.bin`, type: 'application/octet-stream', content: Buffer.alloc(256 * 1024, 0x41) }]);
      return client.request('POST', `/m/${id}/reply`, { type: form.type, bytes: form.body });
    };
    const answers = await Promise.all(Array.from({ length: AT_ONCE }, (_, i) => send(i)));
    const stored = await portal.fixture.pickup.replies.list(id);
    expect(stored.length).toBeLessThanOrEqual(PER_DAY);
    expect(answers.filter((a) => a.status === 303)).toHaveLength(stored.length);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(AT_ONCE - stored.length);
    expect(stored.length).toBe(PER_DAY);
  }, 30_000);
});
