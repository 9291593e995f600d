import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import * as openpgp from 'openpgp';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmimeProtector, E2eKeyStore, openpgpProtector, ReplayLedger } from '../../e2e/index.ts';
import { createVault } from '../../vault/index.ts';
import { openTestStore, type TestStore } from '../../../test/helpers/stores.ts';
import { silentLogger } from '../../../test/helpers/silent-logger.ts';
import { createInboundE2e } from './e2e-inbound.ts';

const NOW = new Date();
const mail = (subject: string) => Buffer.from(`From: alice@sender.test\r\nTo: bob@corp.test\r\nSubject: ${subject}\r\nMessage-ID: <fixed@sender.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n`);

/*
 * The step on its own, over a real store, key store and protector: what the queue receives,
 * and what a refused transaction gives back.
 */
describe('inbound e2e step', () => {
  let t: TestStore;
  afterEach(async () => t?.cleanup());

  async function setup() {
    t = await openTestStore('sqlite');
    const keys = new E2eKeyStore(t.store, createVault(randomBytes(32)));
    const alice = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'alice@sender.test' }], format: 'binary', date: new Date(NOW.getTime() - 60_000) });
    await keys.addPeerKeys(alice.publicKey, 'imported', NOW);
    const step = createInboundE2e({ hostname: 'gw.test', openpgp: openpgpProtector, smime: createSmimeProtector(), keys, replay: new ReplayLedger(t.store, 86_400_000), trustAnchors: [], harvest: true, maxBufferedBytes: 1 << 20, logger: silentLogger });
    const signed = Buffer.from(await openpgpProtector.protect(mail('order'), { sign: true, encrypt: false, recipients: [], signer: { kind: 'openpgp', address: 'alice@sender.test', key: alice.privateKey }, now: new Date(NOW.getTime() - 1000) }));
    const run = async (message: Buffer) => {
      const tx = step.begin(['bob@corp.test'], NOW, 1 << 20);
      const out = await text(Readable.from([message]).pipe(tx.stream));
      return { tx, out };
    };
    return { run, signed };
  }

  it('streams plain mail untouched and puts one verdict on signed mail', async () => {
    const { run, signed } = await setup();
    expect((await run(mail('plain'))).out).toBe(mail('plain').toString());
    const { out } = await run(signed);
    // The field is folded (78 characters a line): unfolded, it says the verdict.
    expect(out.replace(/\r\n\t/g, ' ')).toMatch(/^Sealgate-E2E-Result: gw.test; kind=openpgp; decrypted=no; signature=valid; signer="alice@sender.test"/);
    // Signed only: the rest is the message byte for byte.
    expect(out.slice(out.indexOf('\r\n', out.indexOf('replay=')) + 2)).toBe(signed.toString('latin1'));
  });

  it('gives the replay claim back when the queue refuses, so the retry is no replay', async () => {
    const { run, signed } = await setup();
    const first = await run(signed);
    expect(first.out).toMatch(/replay=no\r\n/);
    first.tx.refused();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const retry = await run(signed);
    expect(retry.out).toMatch(/replay=no\r\n/);
    retry.tx.accepted();
    expect((await run(signed)).out).toMatch(/replay=yes\r\n/);
  });
});
