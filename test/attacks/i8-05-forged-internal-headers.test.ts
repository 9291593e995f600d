import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { afterFirstField, sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 8 item 5: forged internal headers from outside. Inbound mail kept every Sealgate-*
 * control header and Authentication-Results claiming our host (gateway.sealgate.test), so the
 * mailbox server behind us saw "our" dkim=pass on a stranger's message; and a stranger could
 * send as one of our own domains. Now those fields are removed before the message is stored
 * (RFC 8601 §5) and MAIL FROM in our domains needs authentication unless the domain allows it.
 */
describe('i8-05 forged internal headers and senders from outside', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i8-05',
    queue: null,
    domains: (smarthost) => ({
      'corp.test': { smarthost, verifyRecipients: 'off' },
      'lists.test': { smarthost, verifyRecipients: 'off', allowExternalSenders: true },
    }),
  });

  it('relays inbound mail without Sealgate-* fields or Authentication-Results with our authserv-id', async () => {
    const kept =
      'Received: from mx.evil.example by gateway.sealgate.test; Mon, 1 Dec 2026 10:00:00 +0000\r\n' +
      'Authentication-Results: mx.evil.example; dkim=pass\r\n' +
      'From: ceo@bank.example\r\n' +
      'To: dr@corp.test\r\n' +
      'Subject: [secure] wire transfer\r\n';
    const forged =
      'Authentication-Results: gateway.sealgate.test;\r\n\tdkim=pass header.d=corp.test;\r\n\tspf=pass\r\n' +
      'Sealgate-Secure: passphrase=chosen by the attacker\r\n' +
      'SEALGATE-REQUIRE: none\r\n' +
      'Authentication-Results: (comment) GATEWAY.SEALGATE.TEST 1; dmarc=pass\r\n' +
      'Sealgate-Anything: x\r\n';
    const body = '\r\nplease pay';
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO mx.evil.example');
    expect(await client.command('MAIL FROM:<ceo@bank.example>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
    const lines = (kept + forged).split(/(?<=\r\n)(?=[^ \t])/);
    // Interleave the forged fields with the kept ones, as an attacker would.
    const message = [lines[0], lines[5], lines[1], lines[6], lines[2], lines[7], lines[3], lines[8], lines[4], lines[9]].join('') + body;
    expect(await sendData(client, message)).toMatch(/^250/);
    client.close();
    await rig.rx.until(1, 10_000);
    const data = rig.rx.transactions()[0].data;
    expect(data.toString('latin1')).toMatch(/^Received: from mx\.evil\.example \(\[127\.0\.0\.1\]\)\r\n\tby gateway\.sealgate\.test \(Sealgate\)/);
    // Everything after our own Received: line, byte for byte: the stranger's fields minus the forged ones.
    expect(afterFirstField(data).toString('latin1')).toBe(`${kept}${body}\r\n`);
  });

  it('refuses an unauthenticated MAIL FROM in our own domains, unless the domain allows it', async () => {
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO mx.evil.example');
    expect(await client.command('MAIL FROM:<ceo@corp.test>')).toMatch(/^550 5\.7\.1 .*<ceo@corp\.test>/);
    expect(await client.command('MAIL FROM:<CEO@Corp.TEST>')).toMatch(/^550 5\.7\.1 /);
    expect(await client.command('MAIL FROM:<announce@lists.test>')).toMatch(/^250/);
    expect(await client.command('RSET')).toMatch(/^250/);
    // Bounces (null sender) and other domains pass.
    expect(await client.command('MAIL FROM:<>')).toMatch(/^250/);
    client.close();
  });
});
