import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 8 item 8: a receiver that answers DATA with 250 made the message "delivered" although
 * the body was never sent, with a receipt quoting that 250. Only 354 continues a transaction.
 */
describe('i8-08 a 250 answer to DATA is not a delivery', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i8-08',
    recorder: { reply: (_line, stage) => (stage === 'data' ? '250 2.0.0 sure, delivered' : undefined) },
    domains: (smarthost) => ({ 'inbound.test': { smarthost, verifyRecipients: 'off' } }),
  });

  it('defers the message and never records the 250 as a receipt', async () => {
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO client.example');
    await client.command('MAIL FROM:<>');
    await client.command('RCPT TO:<bob@inbound.test>');
    await client.command('DATA');
    client.write('Subject: hello\r\n\r\nhello\r\n.\r\n');
    const end = await client.reply();
    client.close();
    const id = /queued as (\S+)/.exec(end)?.[1] ?? '';
    expect(id).not.toBe('');
    const settled = () => rig.gateway.output().split('\n').some((l) => l.includes(`"messageId":"${id}"`) && l.includes('delivery attempt settled'));
    await until(settled, 10_000, 'the attempt to settle');
    const attempt = rig.gateway.output().split('\n').find((l) => l.includes(`"messageId":"${id}"`) && l.includes('delivery attempt settled'))!;
    expect(JSON.parse(attempt)).toMatchObject({ delivered: 0, failed: 0, deferred: 1 });
    const show = (await rig.gateway.cli('queue', 'show', id)).stdout;
    // Still queued for a retry, the receipt says deferred (and why), none says delivered.
    expect(show).toMatch(/queued +<bob@inbound\.test> .*last: 451 4\.4\.1 .*answered DATA with 250/);
    expect(show).toMatch(/<bob@inbound\.test> +deferred\n/);
    expect(show).not.toMatch(/ delivered\n/);
    expect(rig.rx.commands().map(String)).toContain('DATA');
    // The connection was dropped right after the bad reply: no body bytes followed DATA.
    expect(rig.rx.bytes().includes(Buffer.from('Subject: hello'))).toBe(false);
  });
});
