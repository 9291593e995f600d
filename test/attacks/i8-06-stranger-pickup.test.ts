import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 8 item 6: a stranger could make the gateway issue a pickup notice in a forged
 * internal sender's name: inbound REQUIRETLS + `Sealgate-Secure: passphrase=…` failed with
 * 5.7.30 at the smarthost (no REQUIRETLS there) and fell back to Secure Message Pickup, which
 * sent our notice to the local recipient. Pickup acts only on submitted mail; inbound mail
 * that cannot meet REQUIRETLS fails and bounces (RFC 8689 §4.2.1).
 */
describe('i8-06 a stranger cannot make a pickup', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i8-06',
    // no STARTTLS, no REQUIRETLS on the recorder
    config: { delivery: { connectTimeoutMs: 1000, dnsServers: ['127.0.0.1:9'] } },
  });

  it('inbound REQUIRETLS + Sealgate-Secure fails with 5.7.30 and creates no pickup and no notice', async () => {
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO mx.evil.example');
    await client.startTls();
    expect(await client.command('EHLO mx.evil.example')).toMatch(/REQUIRETLS/);
    expect(await client.command('MAIL FROM:<it-helpdesk@evil.example> REQUIRETLS')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
    const reply = await sendData(client, 'From: "IT helpdesk" <helpdesk@corp.test>\r\nTo: dr@corp.test\r\nSubject: [secure] password reset\r\nSealgate-Secure: passphrase=attacker\r\n\r\nclick\r\n');
    client.close();
    const id = /queued as (\S+)/.exec(reply)?.[1] ?? '';
    expect(id).not.toBe('');
    const db = new Database(path.join(rig.gateway.dir, 'data', 'sealgate.db'), { readonly: true });
    try {
      const original = () => db.prepare('select state, last_reply from recipients where message_id = ?').get(id) as { state: string; last_reply: string | null };
      await until(async () => original().state === 'failed', 15_000, 'the inbound message to fail');
      expect(original().last_reply).toMatch(/^550 5\.7\.30 REQUIRETLS/);
      expect(db.prepare('select count(*) as n from pickup_messages').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    // The failure report goes to the (outside) sender; the local recipient got nothing from us.
    const list = (await rig.gateway.cli('queue', 'list', '--all')).stdout;
    expect(list).toMatch(/from <>\n\s+\S+\s+<it-helpdesk@evil\.example>/);
    expect(rig.rx.transactions()).toEqual([]);
  });
});
