import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { afterFirstField, sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 12: a stranger's message arrives already carrying "our" verdict, so that the mailbox
 * server behind us (which trusts Authentication-Results and ARC sets naming our host) files a
 * forgery as authenticated. Every spelling a lenient reader could take for our authserv-id is
 * removed before the message is stored: field names in any case or with space before the
 * colon, the id folded onto the next line, quoted, after a version or comment, or inside an
 * RFC 2047 encoded word; and a whole ARC set (seal, message signature, results) whose
 * ARC-Authentication-Results names us. Foreign verdicts and foreign ARC sets are kept.
 */
describe('i12-01 forged Authentication-Results and ARC sets claiming our host', () => {
  const rig = gatewayWithSmarthost({ prefix: 'i12-01', queue: null });

  async function relay(header: string, from = 'ceo@bank.example'): Promise<string> {
    const before = rig.rx.transactions().length;
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO mx.evil.example');
    expect(await client.command(`MAIL FROM:<${from}>`)).toMatch(/^250/);
    expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
    expect(await sendData(client, Buffer.from(`${header}\r\npay`, 'latin1'))).toMatch(/^250/);
    client.close();
    await rig.rx.until(before + 1, 10_000);
    return afterFirstField(rig.rx.transactions()[before].data).toString('latin1');
  }

  it('removes every spelling of our authserv-id', async () => {
    const kept = 'Authentication-Results: mx.evil.example; spf=none\r\nFrom: ceo@bank.example\r\nTo: dr@corp.test\r\n';
    const forged = [
      'authentication-results: gateway.sealgate.test; dkim=pass header.d=bank.example',
      'AUTHENTICATION-RESULTS : Gateway.Sealgate.Test 1; dmarc=pass',
      'Authentication-Results:\r\n\tgateway.sealgate.test;\r\n\tspf=pass smtp.mailfrom=bank.example',
      'Authentication-Results: "gateway.sealgate.test"; dkim=pass',
      'Authentication-Results: (verified) gateway.sealgate.test; arc=pass',
      'Authentication-Results: =?utf-8?q?gateway=2Esealgate=2Etest?=; dkim=pass',
      'Authentication-Results: =?UTF-8?B?Z2F0ZXdheS5zZWFsZ2F0ZS50ZXN0?=; dmarc=pass',
    ].map((f) => `${f}\r\n`).join('');
    expect(await relay(`${forged}${kept}`)).toBe(`${kept}\r\npay\r\n`);
  });

  it('removes an ARC set naming our host, whole, and keeps a foreign one', async () => {
    const foreign =
      'ARC-Seal: i=1; a=rsa-sha256; t=1700000000; cv=none; d=lists.example; s=arc; b=AAAA\r\n' +
      'ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=lists.example; s=arc; h=from:to; bh=BBBB; b=CCCC\r\n' +
      'ARC-Authentication-Results: i=1; mx.lists.example; spf=pass\r\n';
    const ours =
      'ARC-Seal: i=2; a=rsa-sha256; t=1700000001; cv=pass; d=sealgate.test; s=arc; b=DDDD\r\n' +
      'arc-message-signature: i=2; a=rsa-sha256; c=relaxed/relaxed; d=sealgate.test;\r\n s=arc; h=from:to; bh=EEEE; b=FFFF\r\n' +
      'ARC-Authentication-Results: i=2;\r\n (forged) GATEWAY.sealgate.test; dkim=pass header.d=bank.example; dmarc=pass\r\n';
    const rest = 'From: ceo@bank.example\r\nTo: dr@corp.test\r\n';
    expect(await relay(`${ours}${foreign}${rest}`)).toBe(`${foreign}${rest}\r\npay\r\n`);
  });
});
