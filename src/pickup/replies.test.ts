import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { isPickupError } from './keys.ts';
import { PickupStore } from './sealed-store.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('pickup reopen, describe and replies (SQLite)', () => {
  let current: TestStore | undefined;
  afterEach(async () => current?.cleanup());

  async function setup(): Promise<PickupStore> {
    current = await openTestStore('sqlite');
    return new PickupStore({ store: current.store, masterKey: randomBytes(32), dataDir: current.dir, gate: { ipAttempts: 1000 } });
  }

  it('reopens by read key without an event, and refuses a foreign key or a withdrawn message', async () => {
    const pickup = await setup();
    const { id, messagePassword } = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'hello', verification: 'question', question: 'Colour?', passphraseOrAnswer: 'blue', parts: [{ kind: 'text', contentType: 'text/plain', content: 'body' }] });
    expect(await pickup.describe(id)).toMatchObject({ state: 'active', verification: 'question', question: 'Colour?', sender: 'a@x.test' });
    expect(await pickup.describe('nope')).toBeUndefined();
    const opened = await pickup.open(id, { password: messagePassword, secret: 'Blue' });
    const again = await pickup.reopen(id, opened.readKey);
    expect(again.subject).toBe('hello');
    expect((await readAll(again.openPart(0))).toString()).toBe('body');
    await expect(pickup.reopen(id, randomBytes(32))).rejects.toSatisfy((e) => isPickupError(e, 'wrong-credentials'));
    expect((await pickup.events(id)).map((e) => e.kind)).toEqual(['created', 'opened']);
    await pickup.retract(id);
    await expect(pickup.reopen(id, opened.readKey)).rejects.toSatisfy((e) => isPickupError(e, 'withdrawn'));
  });

  it('stores a streamed reply the sender can open, linked to the original', async () => {
    const pickup = await setup();
    const { id, messagePassword } = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'Offer', verification: 'link', parts: [] });
    const opened = await pickup.open(id, { password: messagePassword });
    const file = randomBytes(300 * 1024);
    async function* files() {
      yield { filename: 'signed.pdf', contentType: 'application/pdf', content: Readable.from([file.subarray(0, 1000), file.subarray(1000)]) };
    }
    const replyId = await pickup.replies.create(opened, { text: 'Accepted.', attachments: files() }, '127.0.0.5');
    expect(await pickup.replies.originalOf(replyId)).toBe(id);
    expect((await pickup.replies.list(id)).map((r) => [r.replyId, r.state])).toEqual([[replyId, 'active']]);
    const reply = await pickup.replies.open(replyId, '127.0.0.1');
    expect([reply.sender, reply.recipient, reply.subject]).toEqual(['b@y.test', 'a@x.test', 'Re: Offer']);
    expect(reply.parts.map((p) => [p.kind, p.filename, p.size])).toEqual([['text', null, 9], ['attachment', 'signed.pdf', file.length]]);
    expect((await readAll(reply.openPart(1))).equals(file)).toBe(true);
    expect((await pickup.events(id)).map((e) => [e.kind, e.detail])).toContainEqual(['replied', replyId]);
  });

  it('withdraws the replies with the message they answer (their passwords were sealed under its share)', async () => {
    const pickup = await setup();
    const { id, messagePassword } = await pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject: 'Offer', verification: 'link', parts: [] });
    const replyId = await pickup.replies.create(await pickup.open(id, { password: messagePassword }), { text: 'Accepted.' });
    await pickup.retract(id);
    expect((await pickup.replies.list(id)).map((r) => r.state)).toEqual(['retracted']);
    await expect(pickup.replies.open(replyId)).rejects.toSatisfy((e) => isPickupError(e, 'withdrawn'));
  });
});
