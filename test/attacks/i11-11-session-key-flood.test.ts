import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { e2eParties, plainMessage, resultFields, sendInbound, type E2eParties } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11: OpenPGP.js tries every public-key session key packet that names one of our keys
 * (or no key). 5,000 of them naming bob's key, all but the last damaged (480 KB), cost 2.5 s
 * of CPU before the real one opened; a 50 MB message ~4 minutes. A sender writes one per
 * recipient key: past 8 for our keys, the message is stored as it came, not tried.
 */
describe('i11-11 a ciphertext with 5,000 session key packets for one key', () => {
  let parties: E2eParties;
  const rig = gatewayWithSmarthost({
    prefix: 'i11-11',
    setup: async (gateway) => {
      parties = await e2eParties(gateway, ['bob@corp.test'], 'alice@sender.test', rig.temp.dir);
    },
  });

  it('does not try them, and stores the message as it came', async () => {
    const payload = plainMessage('alice@sender.test', 'bob@corp.test', 'order', 'ship 10 crates');
    const bob = await openpgp.readKey({ binaryKey: parties.userPublic('bob@corp.test') });
    const sealed = await openpgp.encrypt({ message: await openpgp.createMessage({ binary: payload }), encryptionKeys: bob, format: 'object' });
    const pkesk = new openpgp.PacketList();
    const rest = new openpgp.PacketList();
    for (const p of sealed.packets) (p instanceof openpgp.PublicKeyEncryptedSessionKeyPacket ? pkesk : rest).push(p);
    const real = Buffer.from(pkesk.write());
    const damaged = Buffer.from(real);
    damaged[damaged.length - 5] ^= 1;
    const flood = Buffer.concat([...Array.from({ length: 4999 }, () => damaged), real, Buffer.from(rest.write())]);
    const armored = openpgp.armor(openpgp.enums.armor.message, flood).replace(/\r?\n/g, '\r\n');
    const message = Buffer.from(
      `${payload.toString('latin1').split('MIME-Version')[0]}MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b2"\r\n\r\n` +
        `--b2\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b2\r\nContent-Type: application/octet-stream\r\n\r\n${armored}\r\n--b2--\r\n`,
    );
    expect(await sendInbound(rig.gateway.ports.inbound, 'alice@sender.test', ['bob@corp.test'], message)).toMatch(/^250/);
    await rig.rx.until(1, 30_000);
    const data = rig.rx.transactions()[0].data;
    expect(resultFields(data)[0]).toMatch(/decrypted=no; not-decrypted=".*holds 5000 session keys for our keys .*more than 8 are not tried"/);
    expect(data.toString('latin1')).not.toContain('ship 10 crates');
  }, 60_000);
});
