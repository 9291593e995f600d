import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { e2eInboundRig, pgpMimeAround, plainMessage, resultFields, sendInbound } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11: OpenPGP.js tries every public-key session key packet that names one of our keys
 * (or no key). 5,000 of them naming bob's key, all but the last damaged (480 KB), cost 2.5 s
 * of CPU before the real one opened; a 50 MB message ~4 minutes. A sender writes one per
 * recipient key: past 8 for our keys, the message is stored as it came, not tried.
 */
describe('i11-11 a ciphertext with 5,000 session key packets for one key', () => {
  const rig = e2eInboundRig('i11-11');

  it('does not try them, and stores the message as it came', async () => {
    const payload = plainMessage('alice@sender.test', 'bob@corp.test', 'order', 'ship 10 crates');
    const bob = await openpgp.readKey({ binaryKey: rig.parties.userPublic('bob@corp.test') });
    const sealed = await openpgp.encrypt({ message: await openpgp.createMessage({ binary: payload }), encryptionKeys: bob, format: 'object' });
    const pkesk = new openpgp.PacketList();
    const rest = new openpgp.PacketList();
    for (const p of sealed.packets) (p instanceof openpgp.PublicKeyEncryptedSessionKeyPacket ? pkesk : rest).push(p);
    const real = Buffer.from(pkesk.write());
    const damaged = Buffer.from(real);
    damaged[damaged.length - 5] ^= 1;
    const flood = Buffer.concat([...Array.from({ length: 4999 }, () => damaged), real, Buffer.from(rest.write())]);
    const armored = openpgp.armor(openpgp.enums.armor.message, flood).replace(/\r?\n/g, '\r\n');
    const message = pgpMimeAround(payload, armored);
    expect(await sendInbound(rig.gateway.ports.inbound, 'alice@sender.test', ['bob@corp.test'], message)).toMatch(/^250/);
    await rig.rx.until(1, 30_000);
    const data = rig.rx.transactions()[0].data;
    expect(resultFields(data)[0]).toMatch(/decrypted=no; not-decrypted=".*holds 5000 session keys for our keys .*more than 8 are not tried"/);
    expect(data.toString('latin1')).not.toContain('ship 10 crates');
  }, 60_000);
});
