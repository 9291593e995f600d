import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmimeProtector, E2eKeyStore, openpgpProtector } from '../e2e/index.ts';
import { testUser } from '../e2e/openpgp/test-keys.ts';
import { createVault } from '../vault/index.ts';
import { openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import type { EndToEndDeps } from './e2e-route.ts';
import { RouteExecutor } from './route-executor.ts';
import type { DomainJob, RecipientResult } from './worker.ts';

const NOW = Date.now();
const clock = { now: () => NOW };
const MESSAGE = 'From: alice@ours.test\r\nTo: bob@dest.test\r\nSubject: Plans\r\nMessage-ID: <m1@ours.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThe secret plans.\r\n';

function job(recipients: string[]): DomainJob {
  return {
    domain: 'dest.test', messageId: 'M1', mailFrom: 'alice@ours.test', origin: 'submitted', authUser: 'alice', requireTls: false, smtpUtf8: false, bodyType: '8BITMIME',
    recipients: recipients.map((address, i) => ({ id: i + 1, address })),
    openBody: async () => Readable.from([Buffer.from(MESSAGE)]), size: MESSAGE.length, route: { kind: 'mx' },
  };
}

/** A destination that takes every recipient and records what it was sent. */
function recordingDeliver() {
  const sent: { job: DomainJob; body: string }[] = [];
  const deliver = async (j: DomainJob) => {
    const chunks: Buffer[] = [];
    for await (const c of await j.openBody()) chunks.push(Buffer.from(c as Buffer));
    sent.push({ job: j, body: Buffer.concat(chunks).toString('latin1') });
    return { results: j.recipients.map((r): RecipientResult => ({ recipientId: r.id, outcome: 'delivered', reply: '250 ok', receipt: { at: NOW, recipient: r.address, mxHost: 'mx', ip: null, port: null, tlsVersion: null, cipher: null, certSubject: null, certVerified: false, reply: '250 ok', outcome: 'delivered' } })) };
  };
  return { sent, deliver };
}

describe('RouteExecutor: end-to-end routes carried out, never plaintext instead', () => {
  let t: TestStore;
  afterEach(async () => t?.cleanup());

  async function setup(rules: Partial<EndToEndDeps['rules']> = {}, protectors?: EndToEndDeps['protectors']) {
    t = await openTestStore('sqlite');
    const keys = new E2eKeyStore(t.store, createVault(randomBytes(32)));
    const alice = await testUser('alice@ours.test', new Date(NOW - 60_000));
    const bob = await testUser('bob@dest.test', new Date(NOW - 60_000));
    await keys.addUserOpenPgpKey(alice.secret.key, new Date(NOW));
    await keys.addPeerKeys(bob.public.data, 'imported', new Date(NOW));
    const endToEnd: EndToEndDeps = {
      keys, clock,
      protectors: protectors ?? { openpgp: openpgpProtector, smime: createSmimeProtector() },
      rules: { encryptsWhenKeyKnown: () => false, ruleFor: () => undefined, ...rules },
    };
    const { sent, deliver } = recordingDeliver();
    const executor = new RouteExecutor({ deliver, endToEnd, clock });
    const run = async (recipients: string[]) => {
      const j = job(recipients);
      return executor.execute(j, await executor.factsFor(j, { message: j, domain: j.domain, destination: j.route }));
    };
    return { sent, run, keys };
  }

  it('"encrypt whenever a key is known": Bob (key) gets PGP/MIME, Carol (none) the message as is; each receipt says its route', async () => {
    const { sent, run } = await setup({ encryptsWhenKeyKnown: (m) => m.authUser === 'alice' });
    const results = await run(['bob@dest.test', 'carol@dest.test']);
    const toBob = sent.find((s) => s.job.recipients.some((r) => r.address === 'bob@dest.test'))!;
    expect(toBob.job.recipients.map((r) => r.address)).toEqual(['bob@dest.test']);
    expect(toBob.body).toMatch(/Content-Type: multipart\/encrypted/);
    expect(toBob.body).not.toContain('The secret plans');
    expect(toBob.body).toMatch(/^Subject: \.\.\.$/m);
    const toCarol = sent.find((s) => s.job.recipients.some((r) => r.address === 'carol@dest.test'))!;
    expect(toCarol.body).toContain('The secret plans');
    expect(results.find((r) => r.recipientId === 1)?.receipt).toMatchObject({ route: 'end-to-end:openpgp', routeReason: expect.stringMatching(/encrypts whenever one is/) });
    expect(results.find((r) => r.recipientId === 2)?.receipt).toMatchObject({ route: 'link', routeReason: expect.stringMatching(/no end-to-end encryption applies: to the destination's MX as it is/) });
  });

  it('two recipients with keys get a copy each, encrypted to that recipient and the sender only (no Bcc leak through key IDs)', async () => {
    const { sent, run, keys } = await setup({ encryptsWhenKeyKnown: () => true });
    const dave = await testUser('dave@dest.test', new Date(NOW - 60_000));
    await keys.addPeerKeys(dave.public.data, 'imported', new Date(NOW));
    await run(['bob@dest.test', 'dave@dest.test']);
    expect(sent.map((s) => s.job.recipients.map((r) => r.address))).toEqual([['bob@dest.test'], ['dave@dest.test']]);
    const keyIds = async (body: string) => {
      const armored = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(body)![0].replace(/\r\n/g, '\n');
      const message = await openpgp.readMessage({ armoredMessage: armored });
      return message.getEncryptionKeyIDs().map((id) => id.toHex()).sort();
    };
    const bobIds = await keyIds(sent[0].body);
    const daveIds = await keyIds(sent[1].body);
    expect(bobIds).toHaveLength(2); // Bob's and Alice's own
    expect(daveIds).toHaveLength(2);
    expect(bobIds.filter((id) => daveIds.includes(id))).toHaveLength(1); // only Alice's is in both
  });

  it('a protect failure defers with the reason (4.7.0) and nothing is sent to that recipient', async () => {
    const failing = { ...openpgpProtector, protect: async () => { throw new Error('the key is broken'); } };
    const ruled = await setup({ ruleFor: () => 'pgp' }, { openpgp: failing, smime: createSmimeProtector() });
    const [result] = await ruled.run(['bob@dest.test']);
    expect(ruled.sent).toEqual([]);
    expect(result).toMatchObject({ outcome: 'deferred', enhanced: '4.7.0', reply: expect.stringMatching(/^451 4\.7\.0 End-to-end encryption could not be done: OpenPGP protection failed: the key is broken/) });
    expect(result.receipt).toMatchObject({ route: 'end-to-end:openpgp', routeReason: expect.stringMatching(/rule for dest\.test/) });
  });

  it('a domain rule without a usable key of its method: only over a verified link, and the receipt says why', async () => {
    const { sent, run } = await setup({ ruleFor: () => 'smime' });
    const [result] = await run(['bob@dest.test']);
    expect(sent).toHaveLength(1);
    expect(sent[0].job.requiredLevel).toBe('tls-verified');
    expect(result.receipt).toMatchObject({ route: 'link', routeReason: expect.stringMatching(/rule for dest\.test asks for end-to-end encryption.*no key of the recipient is known: only over a verified link/) });
  });
});
