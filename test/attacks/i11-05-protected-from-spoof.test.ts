import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { SPOOFED_BANK_TXT, startDns, type DnsServer } from '../helpers/dns.ts';
import { e2eParties, pgpProtect, plainMessage, resultFields, sendInbound, type E2eParties } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11: DMARC (and SPF, DKIM) judge the From outside the encryption; RFC 9788 protected
 * headers come out of it on decryption and would replace it. A stranger in his own
 * SPF-passing domain encrypts to our user a message whose protected From is the CEO of a
 * p=reject domain: the plain copy is refused at the door, the encrypted one must not reach the
 * mailbox saying it is from the CEO. The From the mailbox shows is the one that was checked.
 * Signed only, with hp="clear": the protected From a header-protection reader shows must be
 * the signer's too, or the verdict is not "valid".
 */
describe('i11-05 a protected From that differs from the checked outer From', () => {
  let dns: DnsServer;
  let parties: E2eParties;
  beforeAll(async () => {
    dns = await startDns({ txt: SPOOFED_BANK_TXT });
  });
  afterAll(async () => dns?.stop());
  const rig = gatewayWithSmarthost({
    prefix: 'i11-05',
    config: {
      get auth() {
        return { verifyInbound: true, dnsServers: dns.servers };
      },
    },
    setup: async (gateway) => {
      parties = await e2eParties(gateway, ['bob@corp.test'], 'x@evil.test', rig.temp.dir);
    },
  });

  function fromFields(data: Buffer): string[] {
    const text = data.toString('latin1');
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    return head.replace(/\r\n[ \t]+/g, ' ').split('\r\n').filter((l) => /^from\s*:/i.test(l));
  }

  it('refuses the plain copy, and keeps the checked From on the decrypted one', async () => {
    expect(await sendInbound(rig.gateway.ports.inbound, 'x@evil.test', ['bob@corp.test'], plainMessage('ceo@bank.test', 'bob@corp.test', 'pay', 'pay now'))).toMatch(/^550 5\.7\.1 .*DMARC fail/);
    const inner = plainMessage('ceo@bank.test', 'bob@corp.test', 'pay', 'wire 1M to the attacker');
    const sealed = await pgpProtect(inner, { encryptTo: [{ address: 'bob@corp.test', data: parties.userPublic('bob@corp.test') }] });
    const outer = Buffer.from(sealed.toString('latin1').replace(/^From: ceo@bank\.test\r\n/m, 'From: x@evil.test\r\n'), 'latin1');
    expect(await sendInbound(rig.gateway.ports.inbound, 'x@evil.test', ['bob@corp.test'], outer)).toMatch(/^250/);
    await rig.rx.until(1, 15_000);
    const data = rig.rx.transactions()[0].data;
    expect(data.toString('latin1')).toContain('wire 1M');
    expect(resultFields(data)[0]).toMatch(/decrypted=yes/);
    expect(fromFields(data)).toEqual(['From: x@evil.test']);
  });

  it('gives no valid verdict when the signed protected From is not the signer', async () => {
    const inner = plainMessage('ceo@bank.test', 'bob@corp.test', 'pay', 'signed by x, says ceo');
    const signed = await pgpProtect(inner, { signer: parties.sender });
    const outer = Buffer.from(signed.toString('latin1').replace(/^From: ceo@bank\.test\r\n/m, 'From: x@evil.test\r\n'), 'latin1');
    expect(await sendInbound(rig.gateway.ports.inbound, 'x@evil.test', ['bob@corp.test'], outer)).toMatch(/^250/);
    await rig.rx.until(2, 15_000);
    const fields = resultFields(rig.rx.transactions()[1].data);
    expect(fields).toHaveLength(1);
    expect(fields[0]).toMatch(/signature=invalid; signer="x@evil\.test".*reason="the signer is not the From address of the message"/);
  });
});
