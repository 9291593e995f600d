import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { e2eInboundRig, pgpMimeAround, plainMessage, resultFields, sendInbound } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11: signature checks are public-key work a stranger can order by the thousand. One
 * valid signature of alice's, copied 20,000 times into the signature part of a multipart/signed
 * (3.8 MB), or in front of the literal data inside a ciphertext for bob, made the gateway verify
 * every copy (~4 s of CPU each message; a 50 MB message ~45 s). At most 16 are checked: more,
 * and the signature reads invalid (signed only) or the message is stored as it came (encrypted).
 */
describe('i11-10 a message with 20,000 signatures', () => {
  const rig = e2eInboundRig('i11-10');
  const copies = 20_000;

  async function aliceSignature(data: Buffer): Promise<Uint8Array> {
    const key = await openpgp.readPrivateKey({ binaryKey: rig.parties.sender.key });
    return (await openpgp.sign({ message: await openpgp.createMessage({ binary: data }), signingKeys: key, detached: true, format: 'binary' })) as Uint8Array;
  }

  it('calls a signed-only message with too many signatures invalid', async () => {
    const part = Buffer.from('Content-Type: text/plain; charset=utf-8\r\n\r\nship 10 crates\r\n');
    const signature = await aliceSignature(part);
    const flood = Buffer.from(openpgp.armor(openpgp.enums.armor.signature, Buffer.concat(Array.from({ length: copies }, () => signature))).replace(/\r?\n/g, '\r\n'));
    const head = plainMessage('alice@sender.test', 'bob@corp.test', 'order', '').toString('latin1').split('MIME-Version')[0];
    const message = Buffer.concat([
      Buffer.from(`${head}MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha512; protocol="application/pgp-signature"; boundary="b1"\r\n\r\n--b1\r\n`),
      part,
      Buffer.from('\r\n--b1\r\nContent-Type: application/pgp-signature\r\n\r\n'),
      flood,
      Buffer.from('\r\n--b1--\r\n'),
    ]);
    expect(await sendInbound(rig.gateway.ports.inbound, 'alice@sender.test', ['bob@corp.test'], message)).toMatch(/^250/);
    await rig.rx.until(1, 30_000);
    expect(resultFields(rig.rx.transactions()[0].data)[0]).toMatch(/signature=invalid; reason="The OpenPGP data holds 20000 signatures; more than 16 are not checked"/);
  }, 60_000);

  it('stores a ciphertext with too many signatures inside as it came', async () => {
    const payload = plainMessage('alice@sender.test', 'bob@corp.test', 'order', 'ship 10 crates');
    const signature = await aliceSignature(payload);
    const literal = (await openpgp.createMessage({ binary: payload })).write() as Uint8Array;
    const signed = await openpgp.readMessage({ binaryMessage: Buffer.concat([...Array.from({ length: copies }, () => signature), literal]) });
    const bob = await openpgp.readKey({ binaryKey: rig.parties.userPublic('bob@corp.test') });
    const encrypted = (await signed.encrypt([bob])).armor().replace(/\r?\n/g, '\r\n');
    const message = pgpMimeAround(payload, encrypted);
    expect(await sendInbound(rig.gateway.ports.inbound, 'alice@sender.test', ['bob@corp.test'], message)).toMatch(/^250/);
    await rig.rx.until(2, 30_000);
    const data = rig.rx.transactions()[1].data;
    expect(resultFields(data)[0]).toMatch(/decrypted=no; not-decrypted=".*holds 20000 signatures; more than 16 are not checked"/);
    expect(data.toString('latin1')).not.toContain('ship 10 crates');
  }, 60_000);
});
