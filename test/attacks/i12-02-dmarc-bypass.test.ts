import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPOOFED_BANK_TXT, startDns, type DnsServer } from '../helpers/dns.ts';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 12: ways to get a From: in a p=reject domain past the DMARC check at the end of DATA.
 * A second From: field, or a second address in another domain, makes DMARC impossible to
 * evaluate (RFC 7489 §6.6.1) and a mail client may show either: refused. The envelope sender
 * in the attacker's own SPF-passing domain does not align: refused. Nothing refused reaches
 * the mailbox server. The same message to a domain set to `report` is relayed with the verdict.
 */
describe('i12-02 DMARC bypass attempts at the end of DATA', () => {
  let dns: DnsServer;
  beforeAll(async () => {
    dns = await startDns({ txt: SPOOFED_BANK_TXT });
  });
  afterAll(async () => dns?.stop());
  const rig = gatewayWithSmarthost({
    prefix: 'i12-02',
    domains: (smarthost) => ({ 'corp.test': { smarthost, verifyRecipients: 'off' }, 'lab.test': { smarthost, verifyRecipients: 'off' } }),
    config: {
      get auth() {
        return { verifyInbound: true, dnsServers: dns.servers, dmarc: { domains: { 'lab.test': 'report' } } };
      },
    },
  });

  async function send(mailFrom: string, header: string, rcpt = 'dr@corp.test'): Promise<string> {
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO mx.evil.test');
    expect(await client.command(`MAIL FROM:<${mailFrom}>`)).toMatch(/^250/);
    expect(await client.command(`RCPT TO:<${rcpt}>`)).toMatch(/^250/);
    const reply = await sendData(client, Buffer.from(`${header}To: ${rcpt}\r\nSubject: pay\r\n\r\nnow\r\n`, 'latin1'));
    client.close();
    return reply;
  }

  it('refuses a second From: field, a second author domain and an unaligned envelope sender', async () => {
    expect(await send('x@evil.test', 'From: ceo@bank.test\r\nFrom: x@evil.test\r\n')).toMatch(/^550 5\.7\.1 .*more than one From: field/);
    expect(await send('x@evil.test', 'From: ceo@bank.test, x@evil.test\r\n')).toMatch(/^550 5\.7\.1 .*more than one domain/);
    expect(await send('x@evil.test', 'From: "x@evil.test" <ceo@bank.test>\r\n')).toMatch(/^550 5\.7\.1 .*DMARC fail for bank\.test.*SPF pass/);
    expect(await send('ceo@bank.test', 'From: ceo@BANK.test\r\n')).toMatch(/^550 5\.7\.1 .*DMARC fail/);
    expect(rig.rx.transactions()).toHaveLength(0);
  });

  it('relays to a report-only domain, the failure in the verdict', async () => {
    expect(await send('x@evil.test', 'From: ceo@bank.test\r\n', 'dr@lab.test')).toMatch(/^250/);
    await rig.rx.until(1, 10_000);
    const data = rig.rx.transactions()[0].data.toString('latin1');
    expect(data).toMatch(/^Authentication-Results: gateway\.sealgate\.test;[^]*dmarc=fail/);
    expect(data).not.toMatch(/Sealgate-Quarantine/);
  });
});
