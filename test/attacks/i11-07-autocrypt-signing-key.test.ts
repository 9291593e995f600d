import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { e2eInboundRig, pgpProtect, plainMessage, resultFields, sendInbound } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11: an Autocrypt header is anyone's to write (no DMARC policy protects sender.test,
 * and Level 1 trusts the header by design), so a key learned from one is an encryption
 * opportunity, not proof of who signed. The admin imported alice's real key; mallory sends
 * one message "from" alice with an Autocrypt header carrying his own key for her address,
 * then a second one signed with that key. Its signature must not read `valid`: a weaker
 * source's key does not speak for an address a stronger source holds a key of.
 */
describe('i11-07 a signing key planted by an Autocrypt header', () => {
  const rig = e2eInboundRig('i11-07');

  it('does not call a signature by the planted key valid', async () => {
    const port = rig.gateway.ports.inbound;
    const mallory = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'alice@sender.test' }], format: 'binary', date: new Date(Date.now() - 60_000) });
    const keydata = Buffer.from(mallory.publicKey).toString('base64').replace(/(.{76})/g, '$1\r\n ');
    const planted = plainMessage('alice@sender.test', 'bob@corp.test', 'hi', 'new key', [`Autocrypt: addr=alice@sender.test; prefer-encrypt=mutual; keydata=\r\n ${keydata}`]);
    expect(await sendInbound(port, 'alice@sender.test', ['bob@corp.test'], planted)).toMatch(/^250/);
    await rig.rx.until(1, 15_000);
    // Harvesting follows the 250; wait until the store holds the planted key.
    let listed = '';
    for (let i = 0; i < 50 && !/autocrypt/.test(listed); i++) {
      listed = (await rig.gateway.cli('keys', 'list', 'alice@sender.test')).stdout;
      if (!/autocrypt/.test(listed)) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed).toMatch(/autocrypt/);
    const forged = await pgpProtect(plainMessage('alice@sender.test', 'bob@corp.test', 'order', 'wire 1M'), { signer: { kind: 'openpgp', address: 'alice@sender.test', key: mallory.privateKey } });
    expect(await sendInbound(port, 'alice@sender.test', ['bob@corp.test'], forged)).toMatch(/^250/);
    await rig.rx.until(2, 15_000);
    const field = resultFields(rig.rx.transactions()[1].data)[0];
    expect(field).toMatch(/signature=unknown-key/);
    expect(field).not.toMatch(/signature=valid/);
  });
});
